package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"civicflow"
	"civicflow/wire"
	"civicflow/workflows"
)

// The education grant for low-income college freshmen (教育资助, issue 15):
// the application, the education part of the case page, the fields of
// record_verification and of approve (through POST
// /api/v1/cases/:ref/actions/:action), and the tier rules administrators
// keep. See docs/education.md.

func (s *Server) submitEducation(c echo.Context) error {
	ctx := c.Request().Context()
	var req wire.EducationApplicationRequest
	if err := s.bind(c, &req); err != nil {
		return err
	}
	app, err := s.toEducationApplication(ctx, req)
	if err != nil {
		return err
	}
	// A student who already holds the grant for the year is refused by the
	// store (409 naming no case, counted like other duplicates).
	return s.createCase(c, string(civicflow.CaseTypeEducationGrant), req, app, s.startEducation)
}

// toEducationApplication checks what the validator cannot: the hukou
// township, the admission year (the grant is for freshmen: this year's or
// last year's), a phone to reach someone; and builds the domain value.
func (s *Server) toEducationApplication(ctx context.Context, req wire.EducationApplicationRequest) (*civicflow.Application, error) {
	now := time.Now()
	id, _ := civicflow.ParseIDNumber(req.Person.IDNumber, now)
	bad, err := s.checkHukou(ctx, req.Person.HukouTownshipCode, req.Person.CommunityCode,
		"must be a street office or town of Xi'an, where the student's household is registered")
	if err != nil {
		return nil, err
	}
	year := now.In(civicflow.ChinaZone()).Year()
	if y := req.Education.AdmissionYear; y != year && y != year-1 {
		bad = append(bad, civicflow.FieldError{Field: "education.admission_year",
			Reason: fmt.Sprintf("must be %d or %d: the grant is for college freshmen", year, year-1)})
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
	e := req.Education
	return &civicflow.Application{
		Type: civicflow.CaseTypeEducationGrant,
		Education: &civicflow.EducationApplication{FamilyStatus: civicflow.FamilyStatus(e.FamilyStatus),
			School: strings.TrimSpace(e.School), SchoolKind: civicflow.SchoolKind(e.SchoolKind), Major: strings.TrimSpace(e.Major),
			AdmissionYear: e.AdmissionYear, NoticeNumber: e.NoticeNumber},
		Person: civicflow.Person{Name: req.Person.Name, IDNumber: string(id), BirthDate: id.BirthDate(), Male: id.Male(),
			Phone: req.Person.Phone, TownshipCode: req.Person.HukouTownshipCode},
		CommunityCode: req.Person.CommunityCode, Address: strings.TrimSpace(req.Person.Address),
		Relation: civicflow.Relation(req.Applicant.Relation), ApplicantName: applicantName,
		ApplicantPhone: req.Applicant.Phone, ApplicantEmail: req.Applicant.Email, Statement: req.Statement,
	}, nil
}

func (s *Server) startEducation(ctx context.Context, caseID int64, ref string, app *civicflow.Application) error {
	return s.startWorkflow(ctx, caseID, ref, civicflow.CaseTypeEducationGrant, app, workflows.EducationGrantWorkflow,
		workflows.EducationGrantInput{
			CaseID: caseID, Reference: ref, DistrictCode: civicflow.DistrictOf(app.Person.TownshipCode),
			TownshipCode: app.Person.TownshipCode, BirthDate: app.Person.BirthDate,
			StageSearchAttributes: s.stageAttributes(),
		})
}

// educationView reads the education part of a case for its page; nil for
// a case of another process.
func (s *Server) educationView(ctx context.Context, cs *civicflow.Case) (*wire.EducationDetail, error) {
	if cs.Type != civicflow.CaseTypeEducationGrant {
		return nil, nil
	}
	d, err := s.store.EducationDetails(ctx, cs.ID)
	if err != nil {
		return nil, err
	}
	v := &wire.EducationDetail{Application: d.Application, Verification: d.Verification, Award: d.Award}
	if d.Tier != nil {
		v.Tier = &wire.EducationTier{TierRule: *d.Tier, Basis: d.TierBasis}
	}
	return v, nil
}

// educationFields checks and adds the education-grant fields of an
// action: the verification of record_verification and the amount of
// approve. Role and jurisdiction are checked first, so that an official
// who may not act learns nothing about the case from the answer.
func (s *Server) educationFields(c echo.Context, cs *civicflow.Case, act civicflow.Action, req wire.ActionRequest, wreq *workflows.ActionRequest) error {
	if err := civicflow.Authorize(actorOf(c), act, cs.Scope()); civicflow.ErrorCode(err) == civicflow.EFORBIDDEN {
		return err
	}
	edu := cs.Type == civicflow.CaseTypeEducationGrant
	verify, approve := edu && act == civicflow.ActionRecordVerification, edu && act == civicflow.ActionApprove
	switch {
	case req.Verification != nil && !verify:
		return civicflow.Invalid(civicflow.FieldError{Field: "verification", Reason: "only for record_verification of an education-grant case"})
	case req.TierAmount != 0 && !approve:
		return civicflow.Invalid(civicflow.FieldError{Field: "tier_amount", Reason: "only when approving an education-grant case"})
	case verify:
		return verificationFields(req, wreq)
	case approve:
		if req.TierAmount == 0 {
			return civicflow.Invalid(civicflow.FieldError{Field: "tier_amount",
				Reason: "give the grant the tier rules give the verified family status and kind of school: 3000, 5000 or 7000"})
		}
		wreq.TierAmount = req.TierAmount
		return s.store.CheckAwardAmount(c.Request().Context(), cs.ID, req.TierAmount)
	}
	return nil
}

func verificationFields(req wire.ActionRequest, wreq *workflows.ActionRequest) error {
	v := req.Verification
	if v == nil {
		return civicflow.Invalid(civicflow.FieldError{Field: "verification", Reason: "is required for record_verification"})
	}
	var bad []civicflow.FieldError
	if v.Opinion == civicflow.OpinionEligible && !*v.EnrolmentConfirmed {
		bad = append(bad, civicflow.FieldError{Field: "verification.enrolment_confirmed",
			Reason: "must be true for an eligible opinion: confirm the enrolment with the school first"})
	}
	if v.Opinion == civicflow.OpinionIneligible && strings.TrimSpace(req.Reasons) == "" {
		bad = append(bad, civicflow.FieldError{Field: "reasons", Reason: "give the reasons for an ineligible opinion; the applicant receives them"})
	}
	if len(bad) > 0 {
		return civicflow.Invalid(bad...)
	}
	wreq.Verification = &civicflow.EducationVerification{FamilyStatus: civicflow.FamilyStatus(v.FamilyStatus),
		SchoolKind: civicflow.SchoolKind(v.SchoolKind), EnrolmentConfirmed: *v.EnrolmentConfirmed,
		Findings: strings.TrimSpace(v.Findings), Opinion: v.Opinion}
	return nil
}

func (s *Server) listTierRules(c echo.Context) error {
	if err := requireRole(c, "administrators and supervisors read the tier rules", civicflow.RoleAdministrator, civicflow.RoleSupervisor); err != nil {
		return err
	}
	district, err := districtParam(c)
	if err != nil {
		return err
	}
	rules, err := s.store.TierRules(c.Request().Context(), district)
	if err != nil {
		return err
	}
	if rules == nil {
		rules = []civicflow.TierRule{}
	}
	return c.JSON(http.StatusOK, map[string]any{"rules": rules, "tiers": civicflow.GrantTiers})
}

type tierRuleRequest struct {
	Amount int `json:"amount" validate:"required,oneof=3000 5000 7000"`
}

// tierTarget checks :jurisdiction (the city or a district),
// :family_status and :school_kind.
func (s *Server) tierTarget(c echo.Context) (civicflow.TierRule, error) {
	code, _, err := s.ruleTarget(c)
	if err != nil {
		return civicflow.TierRule{}, err
	}
	r := civicflow.TierRule{Jurisdiction: code, FamilyStatus: civicflow.FamilyStatus(c.Param("family_status")),
		SchoolKind: civicflow.SchoolKind(c.Param("school_kind"))}
	var bad []civicflow.FieldError
	if !r.FamilyStatus.Valid() {
		bad = append(bad, civicflow.FieldError{Field: "family_status", Reason: "must be one of: dibao, dibao_margin, extremely_poor"})
	}
	if !r.SchoolKind.Valid() {
		bad = append(bad, civicflow.FieldError{Field: "school_kind", Reason: "must be one of: undergraduate, vocational"})
	}
	if len(bad) > 0 {
		return civicflow.TierRule{}, civicflow.Invalid(bad...)
	}
	return r, nil
}

func (s *Server) putTierRule(c echo.Context) error {
	if err := requireRole(c, "administrators set the tier rules", civicflow.RoleAdministrator); err != nil {
		return err
	}
	r, err := s.tierTarget(c)
	if err != nil {
		return err
	}
	var req tierRuleRequest
	if err := s.bind(c, &req); err != nil {
		return err
	}
	r.Amount = req.Amount
	saved, err := s.store.PutTierRule(c.Request().Context(), r, actorOf(c).UserID)
	if err != nil {
		return err
	}
	auditDetail(c, "family_status", r.FamilyStatus)
	auditDetail(c, "school_kind", r.SchoolKind)
	auditDetail(c, "amount", r.Amount)
	return c.JSON(http.StatusOK, saved)
}

func (s *Server) deleteTierRule(c echo.Context) error {
	if err := requireRole(c, "administrators set the tier rules", civicflow.RoleAdministrator); err != nil {
		return err
	}
	r, err := s.tierTarget(c)
	if err != nil {
		return err
	}
	if err := s.store.DeleteTierRule(c.Request().Context(), r.Jurisdiction, r.FamilyStatus, r.SchoolKind); err != nil {
		return err
	}
	auditDetail(c, "family_status", r.FamilyStatus)
	auditDetail(c, "school_kind", r.SchoolKind)
	return c.NoContent(http.StatusNoContent)
}
