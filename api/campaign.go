package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"civicflow"
	"civicflow/postgres"
	"civicflow/wire"
	"civicflow/workflows"
)

// Campaigns over the register (年审, 专项排查; issue 18 item 5,
// docs/campaigns.md). Supervisors create, close and watch campaigns; the
// campaign's workflow creates the tasks and takes the close. Township
// officials' visits, ledger items and found persons are rows written here
// (audited by the route table), not messages to the workflow: the table is
// the record and the board reads it. Who may do what is
// civicflow.AuthorizeCampaign.

// pathInt64 reads a numeric path parameter; a malformed one names nothing
// that exists.
func pathInt64(c echo.Context, name, what string) (int64, error) {
	id, err := strconv.ParseInt(c.Param(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, civicflow.Errorf(civicflow.ENOTFOUND, "unknown %s %q", what, c.Param(name))
	}
	return id, nil
}

// campaignOf loads the campaign of the path and checks that the actor
// takes part in it: a supervisor who may read its board, or a township
// official of a township it covers. Others are told nothing of it.
func (s *Server) campaignOf(c echo.Context) (*civicflow.Campaign, error) {
	id, err := pathInt64(c, "id", "campaign")
	if err != nil {
		return nil, err
	}
	cp, err := s.store.Campaign(c.Request().Context(), id)
	if err != nil {
		return nil, err
	}
	a := actorOf(c)
	act := civicflow.CampaignReadBoard
	if a.Role == civicflow.RoleTownshipOfficial {
		act = civicflow.CampaignVisit
	}
	if err := civicflow.AuthorizeCampaign(a, act, cp.Scope, a.Jurisdiction); err != nil {
		return nil, err
	}
	return cp, nil
}

func (s *Server) listCampaigns(c echo.Context) error {
	a := actorOf(c)
	var f postgres.CampaignFilter
	switch {
	case a.Role == civicflow.RoleSupervisor && a.Jurisdiction == civicflow.CityCode:
	case a.Role == civicflow.RoleSupervisor:
		f.Covering = a.Jurisdiction
	case a.Role == civicflow.RoleTownshipOfficial:
		f.Covering, f.OpenOnly = civicflow.DistrictOf(a.Jurisdiction), true
	default:
		return civicflow.Errorf(civicflow.EFORBIDDEN, "campaigns are for supervisors and township officials")
	}
	list, err := s.store.Campaigns(c.Request().Context(), f)
	if err != nil {
		return err
	}
	if list == nil {
		list = []civicflow.Campaign{}
	}
	return c.JSON(http.StatusOK, wire.Campaigns{Campaigns: list})
}

func (s *Server) createCampaign(c echo.Context) error {
	var req wire.CreateCampaignRequest
	if err := s.bind(c, &req); err != nil {
		return err
	}
	a := actorOf(c)
	if err := civicflow.AuthorizeCampaign(a, civicflow.CampaignCreate, req.Scope, ""); err != nil {
		return err
	}
	key, err := idempotencyKey(c)
	if err != nil {
		return err
	}
	asOf := time.Now()
	if req.AsOf != "" {
		asOf, _ = time.Parse(time.DateOnly, req.AsOf) // the validator checked it
	}
	ctx := c.Request().Context()
	cp, replayed, err := s.store.CreateCampaign(ctx, civicflow.NewCampaign{Kind: civicflow.CampaignKind(req.Kind),
		Scope: req.Scope, Title: req.Title, AsOf: asOf, CreatedBy: a, IdempotencyKey: key})
	if err != nil {
		return err
	}
	c.Set(ctxAuditTarget, strconv.FormatInt(cp.ID, 10))
	auditDetail(c, "kind", cp.Kind)
	auditDetail(c, "scope", cp.Scope)
	// Started once: a repeat of the request (same key) finds the workflow
	// and starts it if the first attempt stored the campaign but failed
	// to start it.
	_, err = s.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       civicflow.CampaignWorkflowID(cp.ID),
		TaskQueue:                s.cfg.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		StaticSummary:            "campaign " + strconv.FormatInt(cp.ID, 10) + " · " + string(cp.Kind) + " · " + cp.Scope,
	}, workflows.CampaignWorkflow, workflows.CampaignInput{CampaignID: cp.ID, Scope: cp.Scope})
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if err != nil && !errors.As(err, &started) {
		s.log.Warn("start campaign workflow", "campaign", cp.ID, "err", err)
		return &civicflow.Error{Code: civicflow.EUNAVAILABLE,
			Message: "the campaign was recorded but its tasks could not be started; send the same request again with the same Idempotency-Key"}
	}
	status := http.StatusCreated
	if replayed {
		status = http.StatusOK
	}
	return c.JSON(status, wire.CampaignAnswer{Campaign: *cp, Replayed: replayed})
}

func (s *Server) campaignDetail(c echo.Context) error {
	cp, err := s.campaignOf(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, wire.CampaignAnswer{Campaign: *cp})
}

func (s *Server) closeCampaign(c echo.Context) error {
	cp, err := s.campaignOf(c)
	if err != nil {
		return err
	}
	var req wire.CloseCampaignRequest
	if err := s.bind(c, &req); err != nil {
		return err
	}
	a := actorOf(c)
	if err := civicflow.AuthorizeCampaign(a, civicflow.CampaignClose, cp.Scope, ""); err != nil {
		return err
	}
	key, err := idempotencyKey(c)
	if err != nil {
		return err
	}
	if !cp.Open() && key == "" {
		return civicflow.Errorf(civicflow.ECONFLICT, "the campaign is closed already")
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.cfg.ActionTimeout)
	defer cancel()
	handle, err := s.temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   civicflow.CampaignWorkflowID(cp.ID),
		UpdateName:   workflows.UpdateCloseCampaign,
		UpdateID:     key,
		Args:         []any{workflows.CloseCampaignRequest{Actor: a, Note: req.Note}},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var sum civicflow.CampaignSummary
	if err == nil {
		err = handle.Get(ctx, &sum)
	}
	if err != nil {
		if de := fromTemporal(err); civicflow.ErrorCode(de) != civicflow.EINTERNAL {
			return de
		}
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return civicflow.Errorf(civicflow.ECONFLICT, "the campaign is not running (closed already)")
		}
		if errors.Is(err, context.DeadlineExceeded) || temporalUnavailable(err) {
			return &civicflow.Error{Code: civicflow.EUNAVAILABLE,
				Message: "the close was not confirmed in time; send it again with the same Idempotency-Key to apply it once"}
		}
		return err
	}
	fresh, err := s.store.Campaign(c.Request().Context(), cp.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, wire.CampaignAnswer{Campaign: *fresh, Summary: &sum})
}

func (s *Server) campaignProgress(c echo.Context) error {
	a := actorOf(c)
	if a.Role != civicflow.RoleSupervisor {
		return civicflow.Errorf(civicflow.EFORBIDDEN, "the progress board is for supervisors")
	}
	cp, err := s.campaignOf(c)
	if err != nil {
		return err
	}
	district := ""
	if a.Jurisdiction != civicflow.CityCode {
		district = a.Jurisdiction
	}
	rows, err := s.store.CampaignBoard(c.Request().Context(), cp.ID, district)
	if err != nil {
		return err
	}
	p := wire.CampaignProgress{Campaign: *cp, AsOf: time.Now(), Districts: []civicflow.BoardRow{}, Townships: rows}
	if p.Townships == nil {
		p.Townships = []civicflow.BoardRow{}
	}
	// Townships come in code order, so a district's are together.
	for _, r := range rows {
		if n := len(p.Districts); n == 0 || p.Districts[n-1].DistrictCode != r.DistrictCode {
			p.Districts = append(p.Districts, civicflow.BoardRow{DistrictCode: r.DistrictCode, District: r.District})
		}
		p.Districts[len(p.Districts)-1].Add(r)
		p.Total.Add(r)
	}
	return c.JSON(http.StatusOK, p)
}

type taskQuery struct {
	State string `query:"state" validate:"omitempty,oneof=pending visited all"`
	After int64  `query:"after" validate:"min=0"`
	Limit int    `query:"limit" validate:"min=0,max=500"`
}

func (s *Server) listCampaignTasks(c echo.Context) error {
	a := actorOf(c)
	if a.Role != civicflow.RoleTownshipOfficial {
		return civicflow.Errorf(civicflow.EFORBIDDEN, "campaign tasks are the township officials'")
	}
	cp, err := s.campaignOf(c)
	if err != nil {
		return err
	}
	var q taskQuery
	if err := (&echo.DefaultBinder{}).BindQueryParams(c, &q); err != nil {
		return civicflow.Invalid(civicflow.FieldError{Field: "query", Reason: "after and limit must be whole numbers"})
	}
	if err := s.validate(q); err != nil {
		return err
	}
	f := civicflow.TaskFilter{CampaignID: cp.ID, TownshipCode: a.Jurisdiction, State: q.State, AfterID: q.After, Limit: q.Limit}
	switch q.State {
	case "":
		f.State = civicflow.TaskPending
	case "all":
		f.State = ""
	}
	if f.Limit == 0 {
		f.Limit = 50
	}
	tasks, err := s.store.CampaignTasks(c.Request().Context(), f)
	if err != nil {
		return err
	}
	out := wire.CampaignTasks{Tasks: tasks}
	if out.Tasks == nil {
		out.Tasks = []civicflow.CampaignTask{}
	}
	if len(tasks) == f.Limit {
		out.NextAfter = tasks[len(tasks)-1].ID
	}
	return c.JSON(http.StatusOK, out)
}

// taskOf loads the task of the path and checks that the actor is a
// township official of its township, in the campaign's scope: a task
// elsewhere is 403, whatever its state.
func (s *Server) taskOf(c echo.Context) (civicflow.TaskRef, int64, error) {
	campaignID, err := pathInt64(c, "id", "campaign")
	if err != nil {
		return civicflow.TaskRef{}, 0, err
	}
	taskID, err := pathInt64(c, "task", "task")
	if err != nil {
		return civicflow.TaskRef{}, 0, err
	}
	ref, err := s.store.TaskRef(c.Request().Context(), campaignID, taskID)
	if err != nil {
		return ref, 0, err
	}
	auditDetail(c, "campaign_id", campaignID)
	if err := civicflow.AuthorizeCampaign(actorOf(c), civicflow.CampaignVisit, ref.Scope, ref.TownshipCode); err != nil {
		return ref, 0, err
	}
	return ref, taskID, nil
}

func (s *Server) recordVisit(c echo.Context) error {
	_, taskID, err := s.taskOf(c)
	if err != nil {
		return err
	}
	var req wire.VisitRequest
	if err := s.bind(c, &req); err != nil {
		return err
	}
	on, _ := time.Parse(time.DateOnly, req.VisitedOn) // the validator checked it
	ctx := c.Request().Context()
	items, err := s.store.RecordVisit(ctx, civicflow.Visit{TaskID: taskID, VisitedOn: on, Findings: req.Findings,
		Outcome: civicflow.VisitOutcome(req.Outcome), Problems: req.Problems, Visitor: actorOf(c)})
	if err != nil {
		return err
	}
	auditDetail(c, "outcome", req.Outcome)
	auditDetail(c, "ledger_items", len(items))
	t, err := s.store.CampaignTask(ctx, taskID)
	if err != nil {
		return err
	}
	if items == nil {
		items = []civicflow.LedgerItem{}
	}
	return c.JSON(http.StatusOK, wire.VisitRecorded{Task: *t, Items: items})
}

func (s *Server) openLedgerItem(c echo.Context) error {
	_, taskID, err := s.taskOf(c)
	if err != nil {
		return err
	}
	var req wire.LedgerItemRequest
	if err := s.bind(c, &req); err != nil {
		return err
	}
	it, err := s.store.OpenLedgerItem(c.Request().Context(), taskID, req.Description, actorOf(c))
	if err != nil {
		return err
	}
	auditDetail(c, "ledger_item", it.ID)
	return c.JSON(http.StatusCreated, it)
}

func (s *Server) closeLedgerItem(c echo.Context) error {
	campaignID, err := pathInt64(c, "id", "campaign")
	if err != nil {
		return err
	}
	itemID, err := pathInt64(c, "item", "ledger item")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	ref, err := s.store.LedgerItemRef(ctx, campaignID, itemID)
	if err != nil {
		return err
	}
	if err := civicflow.AuthorizeCampaign(actorOf(c), civicflow.CampaignVisit, ref.Scope, ref.TownshipCode); err != nil {
		return err
	}
	var req wire.CloseLedgerItemRequest
	if err := s.bind(c, &req); err != nil {
		return err
	}
	it, err := s.store.CloseLedgerItem(ctx, itemID, req.ActionTaken, actorOf(c))
	if err != nil {
		return err
	}
	auditDetail(c, "campaign_id", campaignID)
	return c.JSON(http.StatusOK, it)
}

type ledgerQuery struct {
	Open bool `query:"open"`
}

func (s *Server) listLedgerItems(c echo.Context) error {
	cp, err := s.campaignOf(c)
	if err != nil {
		return err
	}
	var q ledgerQuery
	if err := (&echo.DefaultBinder{}).BindQueryParams(c, &q); err != nil {
		return civicflow.Invalid(civicflow.FieldError{Field: "open", Reason: "must be true or false"})
	}
	a := actorOf(c)
	district, township := "", ""
	switch {
	case a.Role == civicflow.RoleTownshipOfficial:
		township = a.Jurisdiction
	case a.Jurisdiction != civicflow.CityCode:
		district = a.Jurisdiction
	}
	items, err := s.store.LedgerItems(c.Request().Context(), cp.ID, district, township, q.Open)
	if err != nil {
		return err
	}
	if items == nil {
		items = []civicflow.LedgerItem{}
	}
	return c.JSON(http.StatusOK, wire.LedgerItems{Items: items})
}

// recordFoundPerson starts, for a person the campaign found eligible and
// not in the register, a centralised-care application on their behalf
// (relation community) through the path of the public application
// (toApplication, recordApplication, startCase), and links it to the
// campaign. The person's hukou township must be the official's.
func (s *Server) recordFoundPerson(c echo.Context) error {
	cp, err := s.campaignOf(c)
	if err != nil {
		return err
	}
	var req wire.FoundPersonRequest
	if err := s.bind(c, &req); err != nil {
		return err
	}
	a := actorOf(c)
	if err := civicflow.AuthorizeCampaign(a, civicflow.CampaignFindPerson, cp.Scope, req.Person.HukouTownshipCode); err != nil {
		return err
	}
	if !cp.Open() {
		return civicflow.Errorf(civicflow.ECONFLICT, "the campaign is closed")
	}
	ctx := c.Request().Context()
	switch _, err := s.store.RunningPeriodByIDNumber(ctx, req.Person.IDNumber); civicflow.ErrorCode(err) {
	case "":
		return civicflow.Errorf(civicflow.ECONFLICT, "the person is in the register already: record the visit on their task")
	case civicflow.ENOTFOUND:
	default:
		return err
	}
	appReq := req.Application()
	app, err := s.toApplication(ctx, appReq)
	if err != nil {
		return err
	}
	sub, status, err := s.recordApplication(c, "campaign_found_person", appReq, app, s.startCase)
	if err != nil {
		return err
	}
	if err := s.store.RecordFoundPerson(ctx, cp.ID, sub.CaseID, a); err != nil {
		return err
	}
	auditDetail(c, "campaign_id", cp.ID)
	return c.JSON(status, sub)
}
