package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"civicflow"
	"civicflow/postgres"
	"civicflow/wire"
	"civicflow/workflows"
)

// runAction authorises an action against the read model, then sends it to
// the case's workflow as an update and waits until the workflow has
// recorded it. The workflow's validator checks everything again against its
// own state; a rejection there writes nothing to history.
func (s *Server) runAction(c echo.Context, cs *civicflow.Case, actor civicflow.Actor, act civicflow.Action, req workflows.ActionRequest) error {
	key, err := idempotencyKey(c)
	if err != nil {
		return err
	}
	if err := civicflow.Authorize(actor, act, cs.Scope()); err != nil {
		// A retry of an action whose first attempt was applied but not
		// answered (a crash, a timeout) finds the read model already past
		// the stage the action needs. With its Idempotency-Key it goes to
		// the workflow anyway: Temporal answers a known update ID with the
		// first attempt's outcome, and the workflow's validator refuses a
		// new action in the wrong stage without writing history. Role and
		// jurisdiction are never deferred.
		if key == "" || civicflow.ErrorCode(err) != civicflow.ECONFLICT {
			return err
		}
	}
	req.Actor = actor
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.cfg.ActionTimeout)
	defer cancel()
	handle, err := s.temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   cs.WorkflowID,
		UpdateName:   string(act),
		UpdateID:     key,
		Args:         []any{req},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		var res workflows.ActionResult
		err = handle.Get(ctx, &res)
	}
	if err != nil {
		return s.actionError(ctx, cs, err)
	}
	return nil
}

func (s *Server) actionError(ctx context.Context, cs *civicflow.Case, err error) error {
	if de := fromTemporal(err); civicflow.ErrorCode(de) != civicflow.EINTERNAL {
		return de
	}
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		// The workflow ended (or never started) after the read model was read.
		if fresh, ferr := s.store.Case(ctx, cs.ID); ferr == nil {
			return civicflow.Errorf(civicflow.ECONFLICT, "the case is closed (stage %s)", fresh.Stage)
		}
		return civicflow.Errorf(civicflow.ECONFLICT, "the case is not running")
	}
	if errors.Is(err, context.DeadlineExceeded) || temporalUnavailable(err) {
		return &civicflow.Error{Code: civicflow.EUNAVAILABLE,
			Message: "the action was not confirmed in time; send it again with the same Idempotency-Key to apply it once"}
	}
	return err
}

// temporalUnavailable reports whether err says Temporal could not be
// reached or did not answer in time (a restart, an overload): worth a retry
// with the same Idempotency-Key, not an internal error.
func temporalUnavailable(err error) bool {
	var (
		unavailable *serviceerror.Unavailable
		deadline    *serviceerror.DeadlineExceeded
		exhausted   *serviceerror.ResourceExhausted
		canceled    *serviceerror.Canceled
		busy        *serviceerror.WorkflowNotReady
		aborted     *serviceerror.Aborted // e.g. an update lost when the server restarted
		nsDown      *serviceerror.NamespaceUnavailable
	)
	return errors.As(err, &unavailable) || errors.As(err, &deadline) || errors.As(err, &exhausted) ||
		errors.As(err, &canceled) || errors.As(err, &busy) || errors.As(err, &aborted) || errors.As(err, &nsDown)
}

type listQuery struct {
	Stage    string `query:"stage" validate:"omitempty,max=40"`
	District string `query:"district" validate:"omitempty,len=6,numeric"`
	Township string `query:"township" validate:"omitempty,len=9,numeric"`
	After    int64  `query:"after" validate:"min=0"`
	Limit    int    `query:"limit" validate:"min=0,max=500"`
}

// scopeFilter narrows a case query to what the actor may read.
func scopeFilter(a civicflow.Actor) (postgres.CaseFilter, error) {
	switch a.Role {
	case civicflow.RoleTownshipOfficial:
		return postgres.CaseFilter{TownshipCode: a.Jurisdiction}, nil
	case civicflow.RoleDistrictReviewer:
		return postgres.CaseFilter{DistrictCode: a.Jurisdiction}, nil
	case civicflow.RoleSupervisor:
		if a.Jurisdiction == civicflow.CityCode {
			return postgres.CaseFilter{}, nil
		}
		return postgres.CaseFilter{DistrictCode: a.Jurisdiction}, nil
	case civicflow.RoleInstitutionStaff:
		return postgres.CaseFilter{InstitutionID: a.InstitutionID}, nil
	}
	return postgres.CaseFilter{}, civicflow.Errorf(civicflow.EFORBIDDEN, "role %s does not read cases", a.Role)
}

func (s *Server) listCases(c echo.Context) error {
	var q listQuery
	if err := (&echo.DefaultBinder{}).BindQueryParams(c, &q); err != nil {
		return civicflow.Invalid(civicflow.FieldError{Field: "query", Reason: "after and limit must be whole numbers"})
	}
	if err := s.validate(q); err != nil {
		return err
	}
	if q.Stage != "" && !civicflow.Stage(q.Stage).Valid() {
		return civicflow.Invalid(civicflow.FieldError{Field: "stage", Reason: "is not a known stage"})
	}
	actor := actorOf(c)
	if actor.Role == civicflow.RoleRehabAssessor {
		return s.listCentreCases(c, q) // by centre, not by jurisdiction (api/rehab.go)
	}
	f, err := scopeFilter(actor)
	if err != nil {
		return err
	}
	if q.District != "" {
		if f.DistrictCode != "" && f.DistrictCode != q.District || f.TownshipCode != "" && civicflow.DistrictOf(f.TownshipCode) != q.District {
			return civicflow.Errorf(civicflow.EFORBIDDEN, "district %s is outside your jurisdiction", q.District)
		}
		f.DistrictCode = q.District
	}
	if q.Township != "" {
		if f.TownshipCode != "" && f.TownshipCode != q.Township || f.DistrictCode != "" && civicflow.DistrictOf(q.Township) != f.DistrictCode {
			return civicflow.Errorf(civicflow.EFORBIDDEN, "township %s is outside your jurisdiction", q.Township)
		}
		f.TownshipCode = q.Township
	}
	f.Stage, f.AfterID, f.Limit = civicflow.Stage(q.Stage), q.After, q.Limit
	cases, err := s.store.Cases(c.Request().Context(), f)
	if err != nil {
		return err
	}
	resp := caseList(cases)
	if len(cases) > 0 && len(cases) == f.Limit || (f.Limit == 0 && len(cases) == 100) {
		resp.NextAfter = &cases[len(cases)-1].ID
	}
	return c.JSON(http.StatusOK, resp)
}

// caseList is the answer of a page of cases, without its cursor.
func caseList(cases []*civicflow.Case) wire.CaseList {
	items := make([]wire.CaseListItem, 0, len(cases))
	for _, cs := range cases {
		items = append(items, wire.CaseListItem{ID: cs.ID, Reference: cs.Reference, Stage: cs.Stage, PersonName: cs.PersonName,
			IDNumberMasked: cs.IDNumberMasked, DistrictCode: cs.DistrictCode, TownshipCode: cs.TownshipCode,
			StageEnteredAt: cs.StageEnteredAt, CreatedAt: cs.CreatedAt})
	}
	return wire.CaseList{Cases: items}
}

// officialCase loads the case named in the path and checks the official
// may read it.
func (s *Server) officialCase(c echo.Context) (*civicflow.Case, error) {
	cs, err := s.store.CaseByReference(c.Request().Context(), c.Param("ref"))
	if err != nil {
		return nil, err
	}
	c.Set(ctxCase, cs) // the request log names the case, refused or not
	actor := actorOf(c)
	if !civicflow.CanReadCases(actor.Role) || !civicflow.InJurisdiction(actor, cs.Scope()) {
		return nil, civicflow.Errorf(civicflow.EFORBIDDEN, "this case is outside your jurisdiction")
	}
	return cs, nil
}

func (s *Server) caseDetail(c echo.Context) error {
	cs, err := s.officialCase(c)
	if err != nil {
		return err
	}
	waited, err := s.awaitChange(c, cs)
	if err != nil {
		return err
	}
	if waited {
		// The case may have moved on while the page waited.
		return s.renderCase(c, cs.ID)
	}
	return s.renderLoaded(c, cs)
}

// renderCase reads the case afresh and answers its detail view; callers
// that changed the case use it.
func (s *Server) renderCase(c echo.Context, caseID int64) error {
	cs, err := s.store.Case(c.Request().Context(), caseID)
	if err != nil {
		return err
	}
	return s.renderLoaded(c, cs)
}

// renderLoaded answers the detail view of a case already read in this
// request.
func (s *Server) renderLoaded(c echo.Context, cs *civicflow.Case) error {
	ctx := c.Request().Context()
	v := wire.CaseDetail{Case: cs, AllowedActions: civicflow.AllowedActions(actorOf(c), cs.Scope())}
	if cs.Type == civicflow.CaseTypeCommunityRehab {
		// Attendance is recorded on its own route, not as an action.
		v.AllowedActions = slices.DeleteFunc(v.AllowedActions, func(a civicflow.Action) bool { return a == civicflow.ActionRecordSession })
	}
	if v.AllowedActions == nil {
		v.AllowedActions = []civicflow.Action{}
	}
	recs, err := s.store.CaseRecords(ctx, cs)
	if err != nil {
		return err
	}
	v.Timeline, v.Papers, v.Checks, v.Allocation, v.Rehab = recs.Timeline, recs.Papers, recs.Checks, recs.Allocation, recs.Rehab
	// 一次性告知: papers are asked for once (the workflow refuses a second
	// request), so the request is not offered again.
	if slices.ContainsFunc(v.Timeline, func(ev civicflow.Event) bool { return ev.Action == civicflow.ActionRequestSupplements }) {
		v.AllowedActions = slices.DeleteFunc(v.AllowedActions, func(a civicflow.Action) bool { return a == civicflow.ActionRequestSupplements })
	}
	if v.Education, err = s.educationView(ctx, cs); err != nil {
		return err
	}
	if cs.Type == civicflow.CaseTypeSupportTransfer || cs.Type == civicflow.CaseTypeSupportTermination {
		// The store's error names the case already.
		if v.Register, err = s.store.RegisterCaseDetails(ctx, cs.ID); err != nil {
			return err
		}
	}
	return c.JSON(http.StatusOK, v)
}

// officialActions are the actions officials take through this route; the
// applicant's own actions have their own routes.
var officialActions = map[civicflow.Action]bool{
	civicflow.ActionAccept: true, civicflow.ActionRequestSupplements: true, civicflow.ActionReject: true,
	civicflow.ActionRecordInvestigation: true, civicflow.ActionLodgeObjection: true, civicflow.ActionApprove: true,
	civicflow.ActionReturn: true, civicflow.ActionConfirmAdmission: true, civicflow.ActionReleaseAllocation: true,
	civicflow.ActionRegister: true, civicflow.ActionAssess: true, civicflow.ActionAgreePlan: true,
	civicflow.ActionRecordReview: true, civicflow.ActionClose: true, civicflow.ActionRefer: true,
	civicflow.ActionRecordVerification: true, civicflow.ActionRecordTransferVisit: true,
}

func (s *Server) act(c echo.Context) error {
	act := civicflow.Action(c.Param("action"))
	if !officialActions[act] {
		return civicflow.Errorf(civicflow.ENOTFOUND, "unknown action %q", c.Param("action"))
	}
	cs, err := s.officialCase(c)
	if err != nil {
		return err
	}
	var req wire.ActionRequest
	if err := s.bind(c, &req); err != nil {
		return err
	}
	wreq := workflows.ActionRequest{Reasons: req.Reasons, Items: req.Items, Note: req.Note, Objector: req.Objector,
		CareLevel: civicflow.CareLevel(req.CareLevel), ReleaseReason: civicflow.ReleaseReason(req.ReleaseReason)}
	if v := req.HomeVisit; v != nil {
		// A date of China time: parsed as UTC, China's today counted as the
		// future between 16:00 and 24:00 UTC.
		if d, _ := time.ParseInLocation("2006-01-02", v.VisitedOn, civicflow.ChinaZone()); d.After(time.Now()) {
			return civicflow.Invalid(civicflow.FieldError{Field: "home_visit.visited_on", Reason: "must not be in the future"})
		}
		wreq.HomeVisit = &workflows.HomeVisit{VisitedOn: v.VisitedOn, Visitors: v.Visitors, Findings: v.Findings,
			CareLevel: civicflow.CareLevel(v.CareLevel), Opinion: v.Opinion}
	}
	wreq.SupportForm = civicflow.SupportForm(req.SupportForm)
	if v := req.Carer; v != nil {
		wreq.Carer = &civicflow.CarerAgreement{Name: v.Name, Relation: v.Relation, Phone: v.Phone, StartsOn: v.StartsOn, EndsOn: v.EndsOn}
	}
	if v := req.TransferVisit; v != nil {
		if d, _ := time.ParseInLocation("2006-01-02", v.VisitedOn, civicflow.ChinaZone()); d.After(time.Now()) {
			return civicflow.Invalid(civicflow.FieldError{Field: "transfer_visit.visited_on", Reason: "must not be in the future"})
		}
		wreq.TransferVisit = &workflows.TransferVisit{VisitedOn: v.VisitedOn, Reason: civicflow.TransferReason(v.Reason),
			Findings: v.Findings, CareLevel: civicflow.CareLevel(v.CareLevel)}
	}
	if err := s.rehabFields(c, cs, act, req, &wreq); err != nil {
		return err
	}
	if err := s.educationFields(c, cs, act, req, &wreq); err != nil {
		return err
	}
	if err := s.runAction(c, cs, actorOf(c), act, wreq); err != nil {
		return err
	}
	return s.renderCase(c, cs.ID)
}

// rehabFields checks and adds the rehab fields of an action (issue 5):
// the centre an approval names, and the sealed record of the rehab
// centre's actions. Role and jurisdiction are checked first, so that an
// official who may not act learns nothing about the fields.
func (s *Server) rehabFields(c echo.Context, cs *civicflow.Case, act civicflow.Action, req wire.ActionRequest, wreq *workflows.ActionRequest) error {
	ctx := c.Request().Context()
	if err := civicflow.Authorize(actorOf(c), act, cs.Scope()); civicflow.ErrorCode(err) == civicflow.EFORBIDDEN {
		return err
	}
	if _, ok := rehabActions[act]; !ok {
		if req.Rehab != nil {
			return civicflow.Invalid(civicflow.FieldError{Field: "rehab", Reason: "only for the rehab centre's actions"})
		}
		if act == civicflow.ActionApprove {
			wreq.RehabCentreID = req.RehabCentreID
			return s.approveCentre(ctx, cs, req.RehabCentreID)
		}
		if req.RehabCentreID != 0 {
			return civicflow.Invalid(civicflow.FieldError{Field: "rehab_centre_id", Reason: "only when approving a rehab case"})
		}
		return nil
	}
	// Reasons and notes of the centre are clinical: they go sealed in
	// rehab.notes, never on the timeline that supervisors read.
	if req.Reasons != "" || req.Note != "" {
		return civicflow.Invalid(civicflow.FieldError{Field: "reasons", Reason: "give the centre's reasons in rehab.notes (sealed), not on the timeline"})
	}
	rr, err := s.rehabRequest(ctx, cs, act, req.Rehab)
	if err != nil {
		return err
	}
	wreq.Rehab = rr
	return nil
}

// districtParam is the optional district query parameter of the lists of
// institutions and centres.
func districtParam(c echo.Context) (string, error) {
	district := c.QueryParam("district")
	if district != "" && (len(district) != 6 || civicflow.DistrictOf(district) != district) {
		return "", civicflow.Invalid(civicflow.FieldError{Field: "district", Reason: "must be a 6-digit district code"})
	}
	return district, nil
}

func (s *Server) listInstitutions(c echo.Context) error {
	district, err := districtParam(c)
	if err != nil {
		return err
	}
	is, err := s.store.Institutions(c.Request().Context(), district)
	if err != nil {
		return err
	}
	if is == nil {
		is = []civicflow.Institution{}
	}
	return c.JSON(http.StatusOK, wire.Institutions{Institutions: is})
}

type departureRequest struct {
	Reasons string `json:"reasons" validate:"required,notblank,max=2000"`
}

func (s *Server) recordDeparture(c echo.Context) error {
	ctx := c.Request().Context()
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return civicflow.Errorf(civicflow.ENOTFOUND, "unknown allocation %q", c.Param("id"))
	}
	var req departureRequest
	if err := s.bind(c, &req); err != nil {
		return err
	}
	al, err := s.store.Allocation(ctx, id)
	if err != nil {
		return err
	}
	actor := actorOf(c)
	if actor.Role != civicflow.RoleInstitutionStaff {
		return civicflow.Errorf(civicflow.EFORBIDDEN, "only staff of the institution record a resident leaving")
	}
	if actor.InstitutionID != al.InstitutionID {
		return civicflow.Errorf(civicflow.EFORBIDDEN, "this resident is in another institution")
	}
	if al.ReleasedAt != nil {
		return civicflow.Errorf(civicflow.ECONFLICT, "the resident's departure was already recorded")
	}
	if al.AdmittedAt == nil {
		return civicflow.Errorf(civicflow.ECONFLICT, "the resident has not been admitted yet")
	}
	run, err := s.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: civicflow.DepartureWorkflowID(id), TaskQueue: s.cfg.TaskQueue,
	}, workflows.DepartureWorkflow, workflows.DepartureInput{AllocationID: id, Actor: actor, Reasons: req.Reasons})
	if err != nil {
		return civicflow.Errorf(civicflow.EUNAVAILABLE, "the departure could not be recorded now; try again")
	}
	wctx, cancel := context.WithTimeout(ctx, s.cfg.ActionTimeout)
	defer cancel()
	var d civicflow.Departure
	if err := run.Get(wctx, &d); err != nil {
		return s.actionError(wctx, &civicflow.Case{ID: al.CaseID}, err)
	}
	resp := map[string]any{"allocation_id": id, "released": true}
	if d.NextCaseID != 0 {
		if next, err := s.store.Case(ctx, d.NextCaseID); err == nil {
			resp["bed_offered_to"] = next.Reference
		}
	}
	return c.JSON(http.StatusOK, resp)
}
