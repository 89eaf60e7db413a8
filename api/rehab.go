package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"civicflow"
	"civicflow/postgres"
	"civicflow/wire"
	"civicflow/workflows"
)

// Community rehabilitation (issue 5): the rehab application, the list of
// rehab centres, the centre's actions (through POST
// /api/v1/cases/:ref/actions/:action, wire.ActionRequest.Rehab), attendance, and the
// audited read of clinical content. See docs/rehab.md.

func (s *Server) submitRehab(c echo.Context) error {
	ctx := c.Request().Context()
	var req wire.RehabApplicationRequest
	if err := s.bind(c, &req); err != nil {
		return err
	}
	app, err := s.toRehabApplication(ctx, req)
	if err != nil {
		return err
	}
	// The scope keeps a rehab request from replaying a centralised-care one
	// with the same key and body.
	return s.createCase(c, string(civicflow.CaseTypeCommunityRehab), req, app, s.startRehab)
}

// toRehabApplication checks what the validator cannot: the hukou township,
// and a guardian's recorded consent for a minor or a person without
// capacity.
func (s *Server) toRehabApplication(ctx context.Context, req wire.RehabApplicationRequest) (*civicflow.Application, error) {
	now := time.Now()
	id, _ := civicflow.ParseIDNumber(req.Person.IDNumber, now)
	bad, err := s.checkHukou(ctx, req.Person.HukouTownshipCode, req.Person.CommunityCode,
		"must be a street office or town of Xi'an, where the person's household is registered")
	if err != nil {
		return nil, err
	}
	minor := civicflow.IsMinor(civicflow.AgeOn(id.BirthDate(), now.In(civicflow.ChinaZone())))
	ap := req.Applicant
	if minor || req.Person.WithoutCapacity {
		who := "a minor"
		if !minor {
			who = "a person without full capacity"
		}
		if ap.AppliedBy != string(civicflow.ApplicantGuardian) {
			bad = append(bad, civicflow.FieldError{Field: "applicant.applied_by", Reason: "for " + who + " the guardian applies"})
		}
		if !ap.GuardianConsent {
			bad = append(bad, civicflow.FieldError{Field: "applicant.guardian_consent", Reason: "the guardian's consent must be recorded for " + who})
		}
		if ap.ConsentOn == "" {
			bad = append(bad, civicflow.FieldError{Field: "applicant.consent_on", Reason: "give the date the guardian consented"})
		}
	}
	if d, err := time.ParseInLocation(time.DateOnly, ap.ConsentOn, civicflow.ChinaZone()); err == nil && d.After(now) {
		bad = append(bad, civicflow.FieldError{Field: "applicant.consent_on", Reason: "must not be in the future"})
	}
	if ap.AppliedBy != string(civicflow.ApplicantPatient) && ap.Phone == "" && req.Person.Phone == "" {
		bad = append(bad, civicflow.FieldError{Field: "applicant.phone", Reason: "give a phone number so the township can reach the applicant"})
	}
	if len(bad) > 0 {
		return nil, civicflow.Invalid(bad...)
	}
	name, relation := ap.Name, civicflow.RelationRelative
	if ap.AppliedBy == string(civicflow.ApplicantPatient) {
		relation = civicflow.RelationSelf
		if name == "" {
			name = req.Person.Name
		}
	}
	rehab := &civicflow.RehabApplication{AppliedBy: civicflow.GuardianRelation(ap.AppliedBy), WithoutCapacity: req.Person.WithoutCapacity}
	if ap.AppliedBy == string(civicflow.ApplicantGuardian) {
		rehab.GuardianName, rehab.GuardianConsent, rehab.ConsentOn = name, ap.GuardianConsent, ap.ConsentOn
	}
	return &civicflow.Application{
		Type: civicflow.CaseTypeCommunityRehab, Rehab: rehab,
		Person: civicflow.Person{Name: req.Person.Name, IDNumber: string(id), BirthDate: id.BirthDate(), Male: id.Male(),
			Phone: req.Person.Phone, TownshipCode: req.Person.HukouTownshipCode},
		CommunityCode: req.Person.CommunityCode, Address: strings.TrimSpace(req.Person.Address),
		Relation: relation, ApplicantName: name, ApplicantPhone: ap.Phone, ApplicantEmail: ap.Email,
		Statement: req.Statement,
	}, nil
}

func (s *Server) startRehab(ctx context.Context, caseID int64, ref string, app *civicflow.Application) error {
	return s.startWorkflow(ctx, caseID, civicflow.CaseTypeCommunityRehab, app, workflows.CommunityRehabWorkflow,
		workflows.CommunityRehabInput{
			CaseID: caseID, Reference: ref, DistrictCode: civicflow.DistrictOf(app.Person.TownshipCode),
			TownshipCode: app.Person.TownshipCode, BirthDate: app.Person.BirthDate, ReviewsPerRun: s.cfg.RehabReviewsPerRun,
			StageSearchAttributes: s.stageAttributes(),
		})
}

func (s *Server) listRehabCentres(c echo.Context) error {
	district, err := districtParam(c)
	if err != nil {
		return err
	}
	cs, err := s.store.RehabCentres(c.Request().Context(), district)
	if err != nil {
		return err
	}
	if cs == nil {
		cs = []civicflow.RehabCentre{}
	}
	return c.JSON(http.StatusOK, wire.RehabCentres{Centres: cs})
}

// rehabActions are the rehab centre's actions.
var rehabActions = map[civicflow.Action]string{
	civicflow.ActionRegister: "registration", civicflow.ActionAssess: "assessment", civicflow.ActionAgreePlan: "plan",
	civicflow.ActionRecordReview: "review", civicflow.ActionClose: "closure", civicflow.ActionRefer: "referral",
}

// rehabRequest checks the clinical fields of a rehab action, seals them and
// builds the workflow's request. Nothing is written here.
func (s *Server) rehabRequest(ctx context.Context, cs *civicflow.Case, act civicflow.Action, in *wire.RehabInput) (*workflows.RehabRequest, error) {
	if in == nil {
		return nil, civicflow.Invalid(civicflow.FieldError{Field: "rehab", Reason: "is required for " + string(act)})
	}
	var bad []civicflow.FieldError
	need := func(field, value string) {
		if strings.TrimSpace(value) == "" {
			bad = append(bad, civicflow.FieldError{Field: "rehab." + field, Reason: "is required"})
		}
	}
	services := func(field string, ss []string) []civicflow.RehabService {
		out := make([]civicflow.RehabService, len(ss))
		for i, v := range ss {
			out[i] = civicflow.RehabService(v)
			if !out[i].Valid() {
				bad = append(bad, civicflow.FieldError{Field: fmt.Sprintf("rehab.%s[%d]", field, i), Reason: "is not one of the nine rehab services"})
			}
		}
		return out
	}
	out := &workflows.RehabRequest{FileNumber: in.FileNumber, Suitable: in.Suitable,
		AgreedBy: civicflow.GuardianRelation(in.AgreedBy), ReviewIntervalDays: in.ReviewIntervalDays,
		Closure: civicflow.ClosureReason(in.Closure), ReferTo: civicflow.ReferralTarget(in.ReferTo), CentreID: in.CentreID}
	for i, it := range in.Plan {
		out.Plan = append(out.Plan, workflows.PlanItem{Service: civicflow.RehabService(it.Service), Frequency: it.Frequency, StartDate: it.StartDate})
		if !civicflow.RehabService(it.Service).Valid() {
			bad = append(bad, civicflow.FieldError{Field: fmt.Sprintf("rehab.plan[%d].service", i), Reason: "is not one of the nine rehab services"})
		}
	}
	switch act {
	case civicflow.ActionRegister:
		need("file_number", in.FileNumber)
		need("diagnosis", in.Diagnosis)
	case civicflow.ActionAssess:
		if in.Suitable == nil {
			bad = append(bad, civicflow.FieldError{Field: "rehab.suitable", Reason: "is required: true or false"})
		}
		if in.RiskLevel == nil {
			bad = append(bad, civicflow.FieldError{Field: "rehab.risk_level", Reason: "is required: 0-5 (危险性评估)"})
		}
		need("physician", in.Physician)
		need("findings", in.Findings)
		out.Services = services("services", in.Services)
		if in.Suitable != nil && *in.Suitable && len(in.Services) == 0 {
			bad = append(bad, civicflow.FieldError{Field: "rehab.services", Reason: "name the services the physician recommends"})
		}
		if in.Suitable != nil && !*in.Suitable {
			need("referral_suggestion", in.ReferralSuggestion)
		}
	case civicflow.ActionAgreePlan:
		need("agreed_by", in.AgreedBy)
		need("agreed_by_name", in.AgreedByName)
		if len(in.Plan) == 0 {
			bad = append(bad, civicflow.FieldError{Field: "rehab.plan", Reason: "choose at least one service"})
		}
	case civicflow.ActionRecordReview:
		if len(in.Progress) == 0 {
			bad = append(bad, civicflow.FieldError{Field: "rehab.progress", Reason: "record progress for every service of the plan"})
		}
		ps := make([]string, len(in.Progress))
		for i, p := range in.Progress {
			ps[i] = p.Service
		}
		out.Reviewed = services("progress", ps)
		if len(in.Plan) > 0 {
			need("agreed_by_name", in.AgreedByName) // a changed plan is agreed again
		}
	case civicflow.ActionClose:
		need("notes", in.Notes)
	case civicflow.ActionRefer:
		need("notes", in.Notes)
		switch in.ReferTo {
		case string(civicflow.ReferToHospital):
			need("hospital", in.Hospital)
		case string(civicflow.ReferToCentre):
			if in.CentreID == 0 {
				bad = append(bad, civicflow.FieldError{Field: "rehab.centre_id", Reason: "name the centre the case moves to"})
			} else if _, err := s.store.RehabCentre(ctx, in.CentreID); civicflow.ErrorCode(err) == civicflow.ENOTFOUND {
				bad = append(bad, civicflow.FieldError{Field: "rehab.centre_id", Reason: "is not a rehab centre of the city"})
			} else if err != nil {
				return nil, err
			}
		default:
			need("refer_to", in.ReferTo)
		}
	}
	if len(bad) > 0 {
		return nil, civicflow.Invalid(bad...)
	}
	// The record is what the assessor wrote, as sent, with the kind.
	sealed, err := s.store.SealRehabRecord(wire.ClinicalContent{Case: cs.Reference, Input: *in, Kind: rehabActions[act]})
	if err != nil {
		return nil, err
	}
	out.Sealed = sealed
	return out, nil
}

// approveCentre checks the centre a district names when it approves a
// rehab case: a centre of the case's district.
func (s *Server) approveCentre(ctx context.Context, cs *civicflow.Case, id int64) error {
	if cs.Type != civicflow.CaseTypeCommunityRehab {
		if id != 0 {
			return civicflow.Invalid(civicflow.FieldError{Field: "rehab_centre_id", Reason: "only a community rehab case is approved to a rehab centre"})
		}
		return nil
	}
	if id == 0 {
		return civicflow.Invalid(civicflow.FieldError{Field: "rehab_centre_id", Reason: "name the district's rehab centre"})
	}
	rc, err := s.store.RehabCentre(ctx, id)
	if civicflow.ErrorCode(err) == civicflow.ENOTFOUND || (err == nil && rc.DistrictCode != cs.DistrictCode) {
		return civicflow.Invalid(civicflow.FieldError{Field: "rehab_centre_id", Reason: "must be the rehab centre of the case's district"})
	}
	return err
}

// clinical shows the clinical content of a rehab case to the staff of the
// centre holding it and the district reviewer of its district
// (civicflow.MaySeeClinical). The read is recorded in the audit trail
// before anything is shown: when the entry cannot be written, nothing is.
func (s *Server) clinical(c echo.Context) error {
	ctx := c.Request().Context()
	cs, err := s.officialCase(c)
	if err != nil {
		return err
	}
	if cs.Type != civicflow.CaseTypeCommunityRehab {
		return civicflow.Errorf(civicflow.ENOTFOUND, "case %s is not a community rehab case", cs.Reference)
	}
	actor := actorOf(c)
	if !civicflow.MaySeeClinical(actor, cs.Scope()) {
		return civicflow.Errorf(civicflow.EFORBIDDEN, "only the rehab centre holding the case and the district reviewer see clinical content")
	}
	v := wire.ClinicalView{Reference: cs.Reference, Stage: cs.Stage}
	if v.Summary, err = s.store.RehabSummary(ctx, cs.ID); err != nil {
		return err
	}
	if v.Application, err = s.store.RehabApplication(ctx, cs.ID); err != nil {
		return err
	}
	recs, err := s.store.ClinicalRecords(ctx, cs.ID)
	if err != nil {
		return err
	}
	if recs != nil {
		v.Records = make([]wire.ClinicalRecord, len(recs))
	}
	for i, r := range recs {
		v.Records[i] = wire.ClinicalRecord{ID: r.ID, Kind: r.Kind, CentreID: r.CentreID, Actor: r.Actor, Content: r.Content,
			RecordedAt: r.RecordedAt}
	}
	auditDetail(c, "records", len(v.Records))
	if err := s.audit(c, postgres.AuditEntry{Action: "case.clinical_read", TargetType: "case", TargetID: cs.Reference,
		Outcome: postgres.OutcomeSuccess}); err != nil {
		return civicflow.Errorf(civicflow.EUNAVAILABLE, "the read could not be recorded in the audit trail, so nothing is shown; try again")
	}
	return c.JSON(http.StatusOK, v)
}

// recordSession sends attendance at a service to the case's workflow as a
// signal (SignalRehabSession): no answer is awaited, the next review
// counts it. The API checks role, centre, stage and plan; the workflow
// checks again.
func (s *Server) recordSession(c echo.Context) error {
	ctx := c.Request().Context()
	cs, err := s.officialCase(c)
	if err != nil {
		return err
	}
	var req wire.SessionRequest
	if err := s.bind(c, &req); err != nil {
		return err
	}
	key, err := idempotencyKey(c)
	if err != nil {
		return err
	}
	if d, _ := time.ParseInLocation(time.DateOnly, req.On, civicflow.ChinaZone()); d.After(time.Now()) {
		return civicflow.Invalid(civicflow.FieldError{Field: "on", Reason: "must not be in the future"})
	}
	actor := actorOf(c)
	if err := civicflow.Authorize(actor, civicflow.ActionRecordSession, cs.Scope()); err != nil {
		return err
	}
	var st workflows.CaseState
	v, err := s.temporal.QueryWorkflow(ctx, cs.WorkflowID, "", workflows.QueryState)
	if err == nil {
		err = v.Get(&st)
	}
	if err != nil {
		return civicflow.Errorf(civicflow.EUNAVAILABLE, "the case could not be read now; try again")
	}
	inPlan := false
	if st.Rehab != nil {
		for _, it := range st.Rehab.Plan {
			inPlan = inPlan || string(it.Service) == req.Service
		}
	}
	if !inPlan {
		return civicflow.Invalid(civicflow.FieldError{Field: "service", Reason: "is not in the case's plan"})
	}
	err = s.temporal.SignalWorkflow(ctx, cs.WorkflowID, "", workflows.SignalRehabSession, workflows.RehabSession{
		Actor: actor, Service: civicflow.RehabService(req.Service), Sessions: req.Sessions, On: req.On, Key: key})
	if err != nil {
		return s.actionError(ctx, cs, err)
	}
	return c.JSON(http.StatusAccepted, wire.SessionRecorded{Recorded: true, Reference: cs.Reference})
}

// listCentreCases lists the cases held by the rehab assessor's centre.
func (s *Server) listCentreCases(c echo.Context, q listQuery) error {
	actor := actorOf(c)
	if actor.RehabCentreID == 0 {
		return civicflow.Errorf(civicflow.EFORBIDDEN, "your district has no rehab centre")
	}
	if q.District != "" || q.Township != "" {
		return civicflow.Errorf(civicflow.EFORBIDDEN, "rehab assessors read the cases their centre holds, not a district's or township's")
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	cases, err := s.store.CentreCases(c.Request().Context(), actor.RehabCentreID, civicflow.Stage(q.Stage), q.After, limit)
	if err != nil {
		return err
	}
	resp := caseList(cases)
	if len(cases) == limit {
		resp.NextAfter = &cases[len(cases)-1].ID
	}
	return c.JSON(http.StatusOK, resp)
}
