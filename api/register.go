package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"civicflow"
	"civicflow/postgres"
	"civicflow/wire"
	"civicflow/workflows"
)

// The register of supported persons (issue 18, docs/register.md): lists
// within the caller's jurisdiction (masked), one entry with its changes,
// the audited unmasked read, counts for supervisors, the support
// standards, and the two processes on a registered person: the transfer
// to an institution (applied for by the person or a relative) and the
// termination (raised by an official).

// registerQuery is the query of GET /api/v1/register.
type registerQuery struct {
	District     string `query:"district" validate:"omitempty,len=6,numeric"`
	Township     string `query:"township" validate:"omitempty,len=9,numeric"`
	Form         string `query:"form" validate:"omitempty,oneof=centralised dispersed"`
	CareLevel    string `query:"care_level" validate:"omitempty,oneof=self_care semi_dependent dependent"`
	Name         string `query:"name" validate:"max=50"`
	IDNumber     string `query:"id_number" validate:"omitempty,len=18"`
	IncludeEnded bool   `query:"include_ended"`
	After        int64  `query:"after" validate:"min=0"`
	Limit        int    `query:"limit" validate:"min=0,max=500"`
}

// registerScope narrows a register query to the caller's jurisdiction, as
// for cases: a township its own, a district its own, the city all, an
// institution its residents.
func registerScope(a civicflow.Actor, q *postgres.RegisterQuery) error {
	f, err := scopeFilter(a)
	if err != nil {
		return civicflow.Errorf(civicflow.EFORBIDDEN, "role %s does not read the register", a.Role)
	}
	if q.TownshipCode != "" && q.DistrictCode != "" && civicflow.DistrictOf(q.TownshipCode) != q.DistrictCode {
		return civicflow.Invalid(civicflow.FieldError{Field: "township", Reason: "is not in the district asked for"})
	}
	mine := f.TownshipCode
	if mine == "" {
		mine = f.DistrictCode
	}
	asked := q.TownshipCode
	if asked == "" {
		asked = q.DistrictCode
	}
	if mine != "" {
		if asked != "" && !strings.HasPrefix(asked, mine) && !strings.HasPrefix(mine, asked) {
			return civicflow.Errorf(civicflow.EFORBIDDEN, "that part of the register is outside your jurisdiction")
		}
		if len(mine) > len(asked) {
			// Asking for more than one's own: one's own, as for cases.
			q.DistrictCode, q.TownshipCode = f.DistrictCode, f.TownshipCode
		}
	}
	if f.InstitutionID != 0 {
		q.InstitutionID = f.InstitutionID
	}
	return nil
}

func (s *Server) listRegister(c echo.Context) error {
	var q registerQuery
	if err := (&echo.DefaultBinder{}).BindQueryParams(c, &q); err != nil {
		return civicflow.Invalid(civicflow.FieldError{Field: "query", Reason: "after and limit must be whole numbers, include_ended true or false"})
	}
	if err := s.validate(q); err != nil {
		return err
	}
	if q.Limit == 0 {
		q.Limit = 50
	}
	rq := postgres.RegisterQuery{RegisterFilter: civicflow.RegisterFilter{DistrictCode: q.District, TownshipCode: q.Township,
		Form: civicflow.SupportForm(q.Form), CareLevel: civicflow.CareLevel(q.CareLevel), Name: strings.TrimSpace(q.Name),
		IDNumber: strings.ToUpper(q.IDNumber), IncludeEnded: q.IncludeEnded, AfterID: q.After, Limit: q.Limit + 1}}
	if err := registerScope(actorOf(c), &rq); err != nil {
		return err
	}
	// A search for a person is a read of personal data: it is audited
	// (what was searched for is not: the ID number stays out of the log).
	if rq.Name != "" || rq.IDNumber != "" {
		auditDetail(c, "search", map[string]bool{"name": rq.Name != "", "id_number": rq.IDNumber != ""})
		if err := s.audit(c, postgres.AuditEntry{Action: "register.search", TargetType: "person",
			Outcome: postgres.OutcomeSuccess}); err != nil {
			return civicflow.Errorf(civicflow.EUNAVAILABLE, "the search could not be recorded in the audit trail, so nothing is shown; try again")
		}
	}
	entries, err := s.store.Register(c.Request().Context(), rq)
	if err != nil {
		return err
	}
	out := wire.RegisterList{Entries: entries}
	if len(entries) > q.Limit {
		out.Entries = entries[:q.Limit]
		out.Next = out.Entries[q.Limit-1].ID
	}
	if out.Entries == nil {
		out.Entries = []*civicflow.RegisterEntry{}
	}
	return c.JSON(http.StatusOK, out)
}

// registerEntry loads the entry of the :id parameter if the caller may
// read it (404 for an unknown one, 403 outside the jurisdiction).
func (s *Server) registerEntry(c echo.Context) (*civicflow.RegisterEntry, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return nil, civicflow.Errorf(civicflow.ENOTFOUND, "no register entry %q", c.Param("id"))
	}
	actor := actorOf(c)
	if !civicflow.CanReadCases(actor.Role) || actor.Role == civicflow.RoleRehabAssessor {
		return nil, civicflow.Errorf(civicflow.EFORBIDDEN, "role %s does not read the register", actor.Role)
	}
	e, err := s.store.RegisterEntry(c.Request().Context(), id)
	if err != nil {
		return nil, err
	}
	if !civicflow.InJurisdiction(actor, e.Scope()) {
		return nil, civicflow.Errorf(civicflow.EFORBIDDEN, "this register entry is outside your jurisdiction")
	}
	return e, nil
}

func (s *Server) registerDetail(c echo.Context) error {
	e, err := s.registerEntry(c)
	if err != nil {
		return err
	}
	changes, err := s.store.RegisterChanges(c.Request().Context(), e.PersonID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, wire.RegisterDetail{Entry: e, Changes: changes})
}

func (s *Server) revealRegister(c echo.Context) error {
	e, err := s.registerEntry(c)
	if err != nil {
		return err
	}
	var req wire.RegisterRevealRequest
	if err := s.bind(c, &req); err != nil {
		return err
	}
	if !civicflow.MayReveal(actorOf(c), e.Scope()) {
		return civicflow.Errorf(civicflow.EFORBIDDEN, "role %s does not see personal data unmasked", actorOf(c).Role)
	}
	ctx := c.Request().Context()
	pd, err := s.store.RegisterPersonalData(ctx, e.ID)
	if err != nil {
		return err
	}
	auditDetail(c, "reason", req.Reason)
	if err := s.audit(c, postgres.AuditEntry{Action: "register.reveal", TargetType: "person",
		TargetID: strconv.FormatInt(e.ID, 10), Outcome: postgres.OutcomeSuccess}); err != nil {
		return civicflow.Errorf(civicflow.EUNAVAILABLE, "the read could not be recorded in the audit trail, so nothing is shown; try again")
	}
	return c.JSON(http.StatusOK, wire.RegisterRevealed{ID: e.ID, PersonName: pd.PersonName, CarerName: pd.CarerName,
		CarerPhone: pd.CarerPhone})
}

func (s *Server) registerCounts(c echo.Context) error {
	actor := actorOf(c)
	if actor.Role != civicflow.RoleSupervisor && actor.Role != civicflow.RoleDistrictReviewer {
		return civicflow.Errorf(civicflow.EFORBIDDEN, "role %s does not see the register's counts", actor.Role)
	}
	counts, err := s.store.RegisterCounts(c.Request().Context(), actor.Jurisdiction)
	if err != nil {
		return err
	}
	out := wire.RegisterCounts{Counts: counts}
	for _, n := range counts {
		out.Total += n.Persons
	}
	return c.JSON(http.StatusOK, out)
}

// Support standards: administrators set them; a standard whose date has
// passed is history that payments were made on, so it is never changed
// or removed (a new standard from a later date replaces it).

func (s *Server) listSupportStandards(c echo.Context) error {
	if err := s.requireAdministrator(c); err != nil {
		return err
	}
	district, err := districtParam(c)
	if err != nil {
		return err
	}
	ss, err := s.store.SupportStandards(c.Request().Context(), district)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, wire.SupportStandards{Standards: ss})
}

// standardKey reads and checks the :district and :effective_from
// parameters; a date before today is refused.
func standardKey(c echo.Context) (string, time.Time, error) {
	var bad []civicflow.FieldError
	district := c.Param("district")
	if len(district) != 6 || civicflow.DistrictOf(district) != district || district == civicflow.CityCode {
		bad = append(bad, civicflow.FieldError{Field: "district", Reason: "must be a 6-digit district code"})
	}
	from, err := time.Parse(time.DateOnly, c.Param("effective_from"))
	today := time.Now().In(civicflow.ChinaZone()).Format(time.DateOnly)
	switch {
	case err != nil:
		bad = append(bad, civicflow.FieldError{Field: "effective_from", Reason: "must be a date (YYYY-MM-DD)"})
	case from.Format(time.DateOnly) < today:
		bad = append(bad, civicflow.FieldError{Field: "effective_from",
			Reason: "must be today or later: a standard in force is history payments were made on"})
	}
	if len(bad) > 0 {
		return "", time.Time{}, civicflow.Invalid(bad...)
	}
	return district, from, nil
}

func (s *Server) putSupportStandard(c echo.Context) error {
	if err := s.requireAdministrator(c); err != nil {
		return err
	}
	district, from, err := standardKey(c)
	if err != nil {
		return err
	}
	var req wire.SupportStandardRequest
	if err := s.bind(c, &req); err != nil {
		return err
	}
	auditDetail(c, "monthly_amount", req.MonthlyAmount)
	auditDetail(c, "effective_from", from.Format(time.DateOnly))
	st, err := s.store.PutSupportStandard(c.Request().Context(), civicflow.SupportStandard{DistrictCode: district,
		EffectiveFrom: from, MonthlyAmount: req.MonthlyAmount, SetBy: actorOf(c).Username})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, st)
}

func (s *Server) deleteSupportStandard(c echo.Context) error {
	if err := s.requireAdministrator(c); err != nil {
		return err
	}
	district, from, err := standardKey(c)
	if err != nil {
		return err
	}
	auditDetail(c, "effective_from", from.Format(time.DateOnly))
	if err := s.store.DeleteSupportStandard(c.Request().Context(), district, from); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// submitTransfer takes a transfer application: the person, or a relative
// (often the carer who can no longer go on), asks for the person in
// dispersed support to move to an institution. The person is found in
// the register by ID number and must bear the name given.
func (s *Server) submitTransfer(c echo.Context) error {
	ctx := c.Request().Context()
	var req wire.TransferApplicationRequest
	if err := s.bind(c, &req); err != nil {
		return err
	}
	idNumber := strings.ToUpper(req.Person.IDNumber)
	if _, reason := civicflow.ParseIDNumber(idNumber, time.Now()); reason != "" {
		return civicflow.Invalid(civicflow.FieldError{Field: "person.id_number", Reason: reason})
	}
	var bad []civicflow.FieldError
	if req.Applicant.Phone != "" && !civicflow.ValidMobile(req.Applicant.Phone) {
		bad = append(bad, civicflow.FieldError{Field: "applicant.phone", Reason: "must be a mainland mobile number (11 digits, starting 13-19)"})
	}
	if req.Applicant.Relation == string(civicflow.RelationRelative) {
		if strings.TrimSpace(req.Applicant.Name) == "" {
			bad = append(bad, civicflow.FieldError{Field: "applicant.name", Reason: "is required when a relative applies"})
		}
		if req.Applicant.Phone == "" {
			bad = append(bad, civicflow.FieldError{Field: "applicant.phone", Reason: "give a phone number so the township can reach the applicant"})
		}
	}
	if len(bad) > 0 {
		return civicflow.Invalid(bad...)
	}
	// Whether a person is in the register is itself personal data: an
	// unknown number and a wrong name get the same answer.
	// Misses are counted per client address like duplicate answers, which
	// throttles probing the register with ID numbers.
	ipKey := clientKey("dup-ip:", c)
	if until, err := s.store.LockedUntil(ctx, ipKey); err != nil {
		return err
	} else if !until.IsZero() {
		return rateLimited(c, until, "too many unmatched applications from this address")
	}
	notFound := func() error {
		if _, err := s.store.RecordFailure(ctx, ipKey, s.cfg.Limits.DuplicatePerIP); err != nil {
			return err
		}
		return civicflow.Invalid(civicflow.FieldError{Field: "person",
			Reason: "no person in dispersed support has this ID number and name; ask the township (street office)"})
	}
	e, err := s.store.RunningPeriodByIDNumber(ctx, idNumber)
	if civicflow.ErrorCode(err) == civicflow.ENOTFOUND {
		return notFound()
	} else if err != nil {
		return err
	}
	if ok, err := s.store.PersonNameMatches(ctx, e.ID, strings.TrimSpace(req.Person.Name)); err != nil {
		return err
	} else if !ok || e.Form != civicflow.SupportDispersed {
		return notFound()
	}
	applicant := strings.TrimSpace(req.Applicant.Name)
	if applicant == "" {
		applicant = strings.TrimSpace(req.Person.Name)
	}
	raised := civicflow.RaisedByPerson
	if req.Applicant.Relation == string(civicflow.RelationRelative) {
		raised = civicflow.RaisedByRelative
	}
	return s.openRegisterCase(c, e, civicflow.RegisterCase{Type: civicflow.CaseTypeSupportTransfer, PeriodID: e.ID,
		RaisedBy: raised, Reason: req.Reason, ApplicantName: applicant, ApplicantPhone: req.Applicant.Phone,
		ApplicantEmail: req.Applicant.Email, Statement: req.Statement}, true)
}

// raiseTermination takes an official's report that a person's support
// must end: the township (on the village or community committee's report,
// or its own finding) or the institution housing the person.
func (s *Server) raiseTermination(c echo.Context) error {
	e, err := s.registerEntry(c)
	if err != nil {
		return err
	}
	var req wire.TerminationRequest
	if err := s.bind(c, &req); err != nil {
		return err
	}
	actor := actorOf(c)
	if err := civicflow.MayRaiseTermination(actor, e, civicflow.RaisedBy(req.RaisedBy)); err != nil {
		return err
	}
	effective, err := time.ParseInLocation(time.DateOnly, req.EffectiveOn, civicflow.ChinaZone())
	if err != nil {
		return civicflow.Invalid(civicflow.FieldError{Field: "effective_on", Reason: "must be a date (YYYY-MM-DD)"})
	}
	if effective.After(time.Now()) {
		return civicflow.Invalid(civicflow.FieldError{Field: "effective_on", Reason: "must not be in the future: the fact must have happened"})
	}
	return s.openRegisterCase(c, e, civicflow.RegisterCase{Type: civicflow.CaseTypeSupportTermination, PeriodID: e.ID,
		RaisedBy: civicflow.RaisedBy(req.RaisedBy), Reason: req.Reason, EffectiveOn: &effective,
		ApplicantName: req.Reporter, Statement: req.Statement}, false)
}

// openRegisterCase records the case and starts its workflow. The access
// code is given to an applicant (a transfer) only.
func (s *Server) openRegisterCase(c echo.Context, e *civicflow.RegisterEntry, rc civicflow.RegisterCase, applicant bool) error {
	ctx := c.Request().Context()
	created, err := s.store.OpenRegisterCase(ctx, rc)
	if err != nil {
		if !applicant {
			return err
		}
		return s.duplicateError(c, err)
	}
	c.Set(ctxAuditTarget, created.Reference)
	if err := s.startRegisterCase(ctx, created.CaseID, created.Reference, e, rc); err != nil {
		return err
	}
	out := wire.RegisterCaseOpened{Reference: created.Reference, Stage: civicflow.StageSubmitted}
	if applicant {
		out.AccessCode, out.TrackURL = created.AccessCode, "/api/v1/applications/"+created.Reference
	}
	return c.JSON(http.StatusCreated, out)
}

// startRegisterCase starts the workflow of a transfer or termination just
// stored (once: a second start finds it running).
func (s *Server) startRegisterCase(ctx context.Context, caseID int64, ref string, e *civicflow.RegisterEntry, rc civicflow.RegisterCase) error {
	app := &civicflow.Application{Person: civicflow.Person{TownshipCode: e.TownshipCode}}
	if rc.Type == civicflow.CaseTypeSupportTransfer {
		return s.startWorkflow(ctx, caseID, ref, rc.Type, app, workflows.SupportTransferWorkflow,
			workflows.SupportTransferInput{CaseID: caseID, Reference: ref, DistrictCode: e.DistrictCode,
				TownshipCode: e.TownshipCode, StageSearchAttributes: s.stageAttributes()})
	}
	return s.startWorkflow(ctx, caseID, ref, rc.Type, app, workflows.SupportTerminationWorkflow,
		workflows.SupportTerminationInput{CaseID: caseID, Reference: ref, DistrictCode: e.DistrictCode,
			TownshipCode: e.TownshipCode, Reason: civicflow.RegisterEndReason(rc.Reason), EffectiveOn: *rc.EffectiveOn,
			NoticePeriod: s.cfg.NoticePeriod, StageSearchAttributes: s.stageAttributes()})
}
