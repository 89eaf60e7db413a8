package api

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"civicflow"
	"civicflow/postgres"
	"civicflow/wire"
	"civicflow/workflows"
)

func (s *Server) submit(c echo.Context) error {
	ctx := c.Request().Context()
	var req wire.ApplicationRequest
	if err := s.bind(c, &req); err != nil {
		return err
	}
	app, err := s.toApplication(ctx, req)
	if err != nil {
		return err
	}
	return s.createCase(c, "", req, app, s.startCase)
}

// createCase stores a validated application once per Idempotency-Key,
// starts (or finds) its workflow with start, and answers the reference,
// the access code and the stage. scope keeps the request hash of one
// process from matching another's ("" for centralised care, whose hashes
// predate the scope). A replayed request whose first attempt wrote the case
// but failed to start it starts it now.
func (s *Server) createCase(c echo.Context, scope string, req any, app *civicflow.Application,
	start func(ctx context.Context, caseID int64, ref string, app *civicflow.Application) error) error {
	sub, status, err := s.recordApplication(c, scope, req, app, start)
	if err != nil {
		return err
	}
	return c.JSON(status, sub)
}

// recordApplication is createCase without the answer: the public
// submissions and the application a campaign starts for a person it
// found (api/campaign.go) take this one path.
func (s *Server) recordApplication(c echo.Context, scope string, req any, app *civicflow.Application,
	start func(ctx context.Context, caseID int64, ref string, app *civicflow.Application) error) (wire.Submitted, int, error) {
	ctx := c.Request().Context()
	key, err := idempotencyKey(c)
	if err != nil {
		return wire.Submitted{}, 0, err
	}
	canonical, err := json.Marshal(req)
	if err != nil {
		return wire.Submitted{}, 0, err
	}
	if scope != "" {
		canonical = append([]byte(scope+"\x00"), canonical...)
	}
	hash := sha256.Sum256(canonical)
	created, err := s.store.CreateApplication(ctx, postgres.NewCase{Application: *app, IdempotencyKey: key, RequestHash: hash[:]})
	if err != nil {
		return wire.Submitted{}, 0, s.duplicateError(c, err)
	}
	c.Set(ctxAuditTarget, created.Reference)
	if err := start(ctx, created.CaseID, created.Reference, app); err != nil {
		return wire.Submitted{}, 0, err
	}
	// The answer does not wait for the workflow: it records the case's
	// first step (intake) by itself within moments. A replayed request
	// answers the stage the case has reached.
	stage := civicflow.StageSubmitted
	status := http.StatusCreated
	if created.Replayed {
		status = http.StatusOK
		if st, err := s.store.CaseStage(ctx, created.CaseID); err == nil {
			stage = st
		}
	}
	return wire.Submitted{CaseID: created.CaseID, Reference: created.Reference,
		AccessCode: created.AccessCode, Stage: stage, Replayed: created.Replayed,
		TrackURL: "/api/v1/applications/" + created.Reference}, status, nil
}

// checkHukou checks that township is a street office or town of Xi'an and
// community, when given, one of its communities. notXian is the reason
// given when the township is not.
func (s *Server) checkHukou(ctx context.Context, township, community, notXian string) ([]civicflow.FieldError, error) {
	var bad []civicflow.FieldError
	tw, err := s.store.Jurisdiction(ctx, township)
	switch {
	case civicflow.ErrorCode(err) == civicflow.ENOTFOUND || (err == nil && tw.Level != civicflow.LevelTownship):
		bad = append(bad, civicflow.FieldError{Field: "person.hukou_township_code", Reason: notXian})
	case err != nil:
		return nil, err
	}
	if community != "" && !strings.HasPrefix(community, township) {
		bad = append(bad, civicflow.FieldError{Field: "person.community_code", Reason: "must be a community of the hukou township"})
	} else if community != "" {
		if cj, err := s.store.Jurisdiction(ctx, community); err != nil || cj.Level != civicflow.LevelCommunity {
			bad = append(bad, civicflow.FieldError{Field: "person.community_code", Reason: "is not a known community"})
		}
	}
	return bad, nil
}

// toApplication checks what the validator cannot (hukou inside Xi'an, the
// eligibility rule on ability to work) and builds the domain value.
func (s *Server) toApplication(ctx context.Context, req wire.ApplicationRequest) (*civicflow.Application, error) {
	now := time.Now()
	id, _ := civicflow.ParseIDNumber(req.Person.IDNumber, now)
	bad, err := s.checkHukou(ctx, req.Person.HukouTownshipCode, req.Person.CommunityCode,
		"must be a street office or town of Xi'an: this process is for residents registered (户籍) in Xi'an")
	if err != nil {
		return nil, err
	}
	age := civicflow.AgeOn(id.BirthDate(), now.In(civicflow.ChinaZone()))
	var dis *civicflow.Disability
	if d := req.Person.Disability; d != nil {
		dis = &civicflow.Disability{Kind: civicflow.DisabilityKind(d.Kind), Grade: d.Grade}
	}
	if !civicflow.UnableToWorkByAge(age) && (dis == nil || !dis.Kind.QualifiesAsUnableToWork(dis.Grade)) {
		bad = append(bad, civicflow.FieldError{Field: "person.disability",
			Reason: "the person must be aged 60 or over, or under 16, or have an intellectual or mental disability of grade 1-3, a physical disability of grade 1-2 or a visual disability of grade 1"})
	}
	if req.Applicant.Relation != string(civicflow.RelationSelf) && req.Applicant.Phone == "" && req.Person.Phone == "" {
		bad = append(bad, civicflow.FieldError{Field: "applicant.phone", Reason: "give a phone number so the township can reach the applicant"})
	}
	if len(bad) > 0 {
		return nil, civicflow.Invalid(bad...)
	}
	applicantName := req.Applicant.Name
	if req.Applicant.Relation == string(civicflow.RelationSelf) && applicantName == "" {
		applicantName = req.Person.Name
	}
	return &civicflow.Application{
		Person: civicflow.Person{Name: req.Person.Name, IDNumber: string(id), BirthDate: id.BirthDate(), Male: id.Male(),
			Phone: req.Person.Phone, TownshipCode: req.Person.HukouTownshipCode},
		CommunityCode: req.Person.CommunityCode, Address: strings.TrimSpace(req.Person.Address),
		Relation: civicflow.Relation(req.Applicant.Relation), ApplicantName: applicantName,
		ApplicantPhone: req.Applicant.Phone, ApplicantEmail: req.Applicant.Email,
		SelfCare: civicflow.CareLevel(req.Person.SelfCare), Disability: dis, Statement: req.Statement,
	}, nil
}

// startAttributes are a new case's search attributes in Temporal; the
// stage only when its workflow keeps it current (Config.StageSearchAttributes).
func (s *Server) startAttributes(t civicflow.CaseType, ref string, app *civicflow.Application) temporal.SearchAttributes {
	set := []temporal.SearchAttributeUpdate{
		workflows.AttrReference.ValueSet(ref),
		workflows.AttrCaseType.ValueSet(string(t)),
		workflows.AttrDistrict.ValueSet(civicflow.DistrictOf(app.Person.TownshipCode)),
		workflows.AttrTownship.ValueSet(app.Person.TownshipCode),
	}
	if s.cfg.StageSearchAttributes {
		set = append(set, workflows.AttrStage.ValueSet(string(civicflow.StageSubmitted)))
	}
	return temporal.NewSearchAttributes(set...)
}

// startSummary is the one line the Temporal UI shows for a case: its
// reference, process and stage at start, in both languages. Never personal
// data: it is stored with the workflow (sealed by the payload codec, like
// every payload).
func startSummary(t civicflow.CaseType, ref string) string {
	return ref + " · " + t.Label(civicflow.LangZH) + " / " + t.Label(civicflow.LangEN) + " · " +
		civicflow.StageSubmitted.Label(civicflow.LangZH) + " / " + civicflow.StageSubmitted.Label(civicflow.LangEN)
}

// idempotencyKey is the request's Idempotency-Key ("" without one): the
// same key sent again makes the same request once (submissions, actions,
// attendance).
func idempotencyKey(c echo.Context) (string, error) {
	key := strings.TrimSpace(c.Request().Header.Get("Idempotency-Key"))
	if len(key) > 255 {
		return "", civicflow.Invalid(civicflow.FieldError{Field: "Idempotency-Key", Reason: "must be at most 255 characters"})
	}
	return key, nil
}

// stageAttributes is the workflows' StageSearchAttributes input.
func (s *Server) stageAttributes() *bool {
	on := s.cfg.StageSearchAttributes
	return &on
}

func (s *Server) startCase(ctx context.Context, caseID int64, ref string, app *civicflow.Application) error {
	return s.startWorkflow(ctx, caseID, ref, civicflow.CaseTypeCentralisedCare, app, workflows.CentralisedCareWorkflow,
		workflows.CentralisedCareInput{
			CaseID: caseID, Reference: ref, DistrictCode: civicflow.DistrictOf(app.Person.TownshipCode),
			TownshipCode: app.Person.TownshipCode, BirthDate: app.Person.BirthDate, SelfCare: app.SelfCare,
			NoticePeriod: s.cfg.NoticePeriod, StageSearchAttributes: s.stageAttributes(),
		})
}

// startWorkflow starts the workflow of a case just stored, once: a second
// start (the same request sent again) finds it running. A failure leaves
// the case stored and asks for the request again with its key.
func (s *Server) startWorkflow(ctx context.Context, caseID int64, ref string, t civicflow.CaseType, app *civicflow.Application,
	workflow string, input any) error {
	_, err := s.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       civicflow.CaseWorkflowID(caseID),
		TaskQueue:                s.cfg.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		TypedSearchAttributes:    s.startAttributes(t, ref, app),
		StaticSummary:            startSummary(t, ref),
	}, workflow, input)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if err != nil && !errors.As(err, &started) {
		return &civicflow.Error{Code: civicflow.EUNAVAILABLE,
			Message: "the application was recorded but its processing could not start; send the same request again with the same Idempotency-Key"}
	}
	return nil
}

func (s *Server) applicantView(c echo.Context) error {
	cs := c.Get(ctxCase).(*civicflow.Case)
	return s.renderApplicantCase(c, cs.ID)
}

func (s *Server) renderApplicantCase(c echo.Context, caseID int64) error {
	ctx := c.Request().Context()
	cs, err := s.store.Case(ctx, caseID)
	if err != nil {
		return err
	}
	recs, err := s.store.CaseRecords(ctx, cs)
	if err != nil {
		return err
	}
	v := wire.ApplicantCase{Reference: cs.Reference, Type: cs.Type, Stage: cs.Stage, StageSince: cs.StageEnteredAt, WaitingFor: cs.WaitingFor,
		PersonName: cs.PersonName, IDNumberMasked: cs.IDNumberMasked, CanWithdraw: cs.Stage.Withdrawable(),
		Papers: recs.Papers, SupportStart: cs.SupportStart, SupportForm: cs.SupportForm, History: []wire.HistoryEntry{}}
	if v.Papers == nil {
		v.Papers = []civicflow.Document{}
	}
	if al := recs.Allocation; al != nil {
		v.Placement = &wire.Placement{Institution: al.Institution, Bed: al.BedLabel, CareLevel: al.CareLevel}
	}
	if cs.Type == civicflow.CaseTypeEducationGrant {
		aw, err := s.store.AwardOf(c.Request().Context(), cs.ID)
		if err != nil {
			return err
		}
		if aw != nil {
			v.Award = &wire.ApplicantAward{Amount: aw.Amount, AdmissionYear: aw.AdmissionYear, State: aw.State}
		}
	}
	for _, e := range recs.Timeline {
		by := wire.BySystem
		switch e.Actor.Role {
		case civicflow.RoleApplicant:
			by = wire.ByApplicant
		case civicflow.RoleTownshipOfficial:
			by = wire.ByTownship
		case civicflow.RoleDistrictReviewer:
			by = wire.ByDistrict
		case civicflow.RoleInstitutionStaff:
			by = wire.ByInstitution
		case civicflow.RoleRehabAssessor:
			by = wire.ByRehabCentre
		}
		v.History = append(v.History, wire.HistoryEntry{At: e.At, Action: string(e.Action), Stage: e.ToStage, By: by, Reasons: e.Reasons})
	}
	return c.JSON(http.StatusOK, v)
}

func (s *Server) provideSupplements(c echo.Context) error {
	cs := c.Get(ctxCase).(*civicflow.Case)
	var req wire.SupplementsRequest
	if err := s.bind(c, &req); err != nil {
		return err
	}
	docs, err := s.store.Documents(c.Request().Context(), cs.ID)
	if err != nil {
		return err
	}
	known := map[int64]bool{}
	for _, d := range docs {
		known[d.ID] = true
	}
	for i, id := range req.DocumentIDs {
		if !known[id] {
			return civicflow.Invalid(civicflow.FieldError{Field: "document_ids[" + strconv.Itoa(i) + "]", Reason: "is not a paper of this case; upload it first"})
		}
	}
	if err := s.runAction(c, cs, actorOf(c), civicflow.ActionProvideSupplements,
		workflows.ActionRequest{DocumentIDs: req.DocumentIDs, Note: req.Note}); err != nil {
		return err
	}
	return s.renderApplicantCase(c, cs.ID)
}

func (s *Server) withdraw(c echo.Context) error {
	cs := c.Get(ctxCase).(*civicflow.Case)
	var req wire.WithdrawRequest
	if err := s.bind(c, &req); err != nil {
		return err
	}
	if err := s.runAction(c, cs, actorOf(c), civicflow.ActionWithdraw, workflows.ActionRequest{Reasons: req.Reasons}); err != nil {
		return err
	}
	return s.renderApplicantCase(c, cs.ID)
}
