package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"civicflow"
	"civicflow/activities"
	"civicflow/postgres"
)

// a is the nil receiver through which workflows name activity methods.
var a *activities.Activities

// recordOptions bound read-model writes. Retries have no limit: a write that
// committed but whose answer was lost is retried harmlessly (it is
// idempotent), and giving up would let workflow and read model diverge.
var recordOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 30 * time.Second,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:        time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        time.Minute,
		NonRetryableErrorTypes: []string{civicflow.EINVALID, civicflow.ENOTFOUND},
	},
}

// checkOptions bound one call to the verification platform; the platform
// may be down for a while, so retries go on with back-off up to 10 minutes
// apart until it answers.
var checkOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 30 * time.Second,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:        2 * time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        10 * time.Minute,
		NonRetryableErrorTypes: []string{civicflow.EINVALID, civicflow.ENOTFOUND},
	},
}

// careCase is the state of one running CentralisedCare workflow.
type careCase struct {
	in       CentralisedCareInput
	state    CaseState
	mu       workflow.Mutex
	inFlight int // action updates being applied
	// checkDone is set when the current round's household check answered.
	checkDone bool

	// Stage deadlines (versionStageDeadlines, docs/deadlines.md).
	deadlines      bool                  // this run keeps stage clocks
	noticeOverride bool                  // the input fixed the notice period (demos, tests)
	clock          *civicflow.StageClock // the current stage's clock; nil: none
	clockGen       int                   // bumped whenever clock changes
	reminded       bool                  // the current clock's reminder was recorded
	breached       bool                  // the current clock's breach was recorded
	// clockInStep: the clock comes with the step's read-model write
	// (versionStageDeadlines 2) instead of a StageClock activity of its own.
	clockInStep bool
}

// versionStageDeadlines marks runs that keep stage clocks. Version 1: a
// StageClock activity when a stage starts, the due date on the case and in
// the CivicflowStageDue search attribute, and the reminder and breach
// timers. Version 2 (clockInStep): the clock is computed by the
// RecordTransition activity that records the step, one activity per stage
// change instead of two (issue 8, docs/performance.md). Runs started before
// version 1 replay without any of that. One change ID for both keeps new
// histories to one version marker (each marker also upserts the
// TemporalChangeVersion search attribute).
const versionStageDeadlines = "stage-deadlines"

// CentralisedCare runs one application for centralised support for an
// extremely poor person (特困人员集中供养) from intake to admission.
func CentralisedCare(ctx workflow.Context, in CentralisedCareInput) (CaseState, error) {
	noticeOverride := in.NoticePeriod > 0
	if in.NoticePeriod <= 0 {
		in.NoticePeriod = civicflow.PublicNoticePeriod
	}
	c := &careCase{in: in, state: CaseState{CaseID: in.CaseID, Stage: civicflow.StageSubmitted, WaitingFor: []string{}}, mu: workflow.NewMutex(ctx)}
	c.noticeOverride = noticeOverride
	ctx = workflow.WithActivityOptions(ctx, recordOptions)
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (CaseState, error) { return c.state, nil }); err != nil {
		return c.state, err
	}
	for _, act := range []civicflow.Action{
		civicflow.ActionAccept, civicflow.ActionRequestSupplements, civicflow.ActionReject,
		civicflow.ActionProvideSupplements, civicflow.ActionWithdraw, civicflow.ActionRecordInvestigation,
		civicflow.ActionLodgeObjection, civicflow.ActionApprove, civicflow.ActionReturn,
		civicflow.ActionConfirmAdmission,
	} {
		if err := c.registerAction(ctx, act); err != nil {
			return c.state, err
		}
	}

	if v := workflow.GetVersion(ctx, versionStageDeadlines, workflow.DefaultVersion, 2); v >= 1 {
		c.deadlines = true
		c.clockInStep = v >= 2
		workflow.Go(ctx, c.watchDeadline)
	}
	if err := c.step(ctx, step{action: "submitted", to: civicflow.StageIntake, actor: civicflow.SystemActor}); err != nil {
		return c.state, err
	}
	for !c.state.Stage.Terminal() {
		var err error
		switch c.state.Stage {
		case civicflow.StageInvestigation:
			err = c.investigate(ctx)
		case civicflow.StagePublicNotice:
			err = c.publicNotice(ctx)
		case civicflow.StagePlacement, civicflow.StageWaitlisted:
			err = c.place(ctx)
		default: // stages where only people move the case on
			stage := c.state.Stage
			err = workflow.Await(ctx, func() bool { return c.state.Stage != stage })
		}
		if err != nil {
			return c.state, err
		}
	}
	// Let update handlers that are still running finish before completing.
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return c.state, err
	}
	return c.state, nil
}

// step is one transition of the case.
type step struct {
	action       string
	to           civicflow.Stage
	actor        civicflow.Actor
	reasons      string
	details      any
	waitingFor   []string
	careLevel    civicflow.CareLevel
	noticeEndsAt *time.Time
	supportStart *time.Time
	admit        int64                 // allocation to mark admitted along with the step
	clock        *civicflow.StageClock // the entered stage's clock, when the caller read it already
}

// step records a transition in the read model and then applies it to the
// workflow's state. Callers hold no lock; step takes it.
func (c *careCase) step(ctx workflow.Context, s step) error {
	if err := c.mu.Lock(ctx); err != nil {
		return err
	}
	defer c.mu.Unlock()
	return c.stepLocked(ctx, s)
}

func (c *careCase) stepLocked(ctx workflow.Context, s step) error {
	// Update handlers get a context without the workflow's options.
	ctx = workflow.WithActivityOptions(ctx, recordOptions)
	seq := c.state.Seq + 1
	t := postgres.Transition{
		CaseID: c.in.CaseID, Key: fmt.Sprintf("step-%d", seq), Seq: seq, Action: s.action,
		From: c.state.Stage, To: s.to, Actor: s.actor, Reasons: s.reasons, Details: s.details,
		At: workflow.Now(ctx), WaitingFor: s.waitingFor, CareLevel: s.careLevel,
		NoticeEndsAt: s.noticeEndsAt, SupportStart: s.supportStart,
	}
	// The state moves first, so that an update validated while the write is
	// in flight already sees the stage the read model is about to show (the
	// API checks against the read model and may send it at once). Handlers
	// wait on the lock held here before they act.
	prev := c.state
	changed := c.state.Stage != s.to
	c.state.Seq, c.state.Stage = seq, s.to
	if s.waitingFor != nil {
		c.state.WaitingFor = s.waitingFor
	}
	if s.careLevel != "" {
		c.state.CareLevel = s.careLevel
	}
	if s.to == civicflow.StagePublicNotice {
		c.state.NoticeEndsAt = s.noticeEndsAt
	} else {
		c.state.NoticeEndsAt = nil
	}
	if s.supportStart != nil {
		c.state.SupportStart = s.supportStart
	}
	prevClock, prevGen, prevReminded, prevBreached := c.clock, c.clockGen, c.reminded, c.breached
	var clockReq *activities.StageClockInput
	switch {
	case c.deadlines && changed && c.clockInStep:
		req, next := c.planClock(s, seq, t.At)
		if req == nil {
			c.applyClock(activities.ClockStart, next)
			t.StageDueAt = c.state.StageDueAt
			break
		}
		// The write brings the new clock; until then the deadline
		// watcher waits without one.
		clockReq = req
		c.clock, c.clockGen = nil, c.clockGen+1
		c.setDue()
	case c.deadlines && changed:
		if err := c.enterClock(ctx, s, seq, t.At); err != nil {
			c.state = prev
			return fmt.Errorf("stage clock for %s: %w", s.to, err)
		}
		t.StageDueAt = c.state.StageDueAt
	}
	var err error
	var res activities.RecordResult
	if s.admit != 0 {
		err = workflow.ExecuteActivity(ctx, a.ConfirmAdmission, activities.AdmissionInput{AllocationID: s.admit, Transition: t}).Get(ctx, nil)
	} else {
		err = workflow.ExecuteActivity(ctx, a.RecordTransition, activities.RecordInput{Transition: t, Clock: clockReq}).Get(ctx, &res)
	}
	if err == nil && clockReq != nil {
		if res.Clock == nil {
			err = fmt.Errorf("the write of %s answered no clock", s.action)
		} else {
			c.applyClock(clockReq.Op, res.Clock)
			if res.NoticeEndsAt != nil {
				c.state.NoticeEndsAt = res.NoticeEndsAt
			}
		}
	}
	if err != nil {
		c.state = prev // only a non-retryable (invalid) write gets here
		c.clock, c.clockGen, c.reminded, c.breached = prevClock, prevGen, prevReminded, prevBreached
		return fmt.Errorf("record %s: %w", s.action, err)
	}
	if changed && c.deadlines {
		due := AttrStageDue.ValueUnset()
		if c.state.StageDueAt != nil {
			due = AttrStageDue.ValueSet(*c.state.StageDueAt)
		}
		if err := workflow.UpsertTypedSearchAttributes(ctx, AttrStage.ValueSet(string(s.to)), due); err != nil {
			return fmt.Errorf("upsert stage attributes: %w", err)
		}
	} else if changed {
		if err := workflow.UpsertTypedSearchAttributes(ctx, AttrStage.ValueSet(string(s.to))); err != nil {
			return fmt.Errorf("upsert stage attribute: %w", err)
		}
	}
	return nil
}

// scope is the authorisation scope as the workflow knows it.
func (c *careCase) scope() civicflow.Scope {
	return civicflow.Scope{CaseID: c.in.CaseID, Stage: c.state.Stage, DistrictCode: c.in.DistrictCode,
		TownshipCode: c.in.TownshipCode, InstitutionID: c.state.InstitutionID}
}

// domainError turns a domain error into an application error whose type is
// the domain code, which the API maps back to an HTTP status.
func domainError(err error) error {
	var e *civicflow.Error
	if errors.As(err, &e) {
		var details []any
		if len(e.Fields) > 0 {
			details = append(details, e.Fields)
		}
		return temporal.NewNonRetryableApplicationError(e.Message, e.Code, nil, details...)
	}
	return err
}

func (c *careCase) registerAction(ctx workflow.Context, act civicflow.Action) error {
	return workflow.SetUpdateHandlerWithOptions(ctx, string(act),
		func(ctx workflow.Context, req ActionRequest) (ActionResult, error) {
			c.inFlight++
			defer func() { c.inFlight-- }()
			if err := c.mu.Lock(ctx); err != nil {
				return ActionResult{}, err
			}
			defer c.mu.Unlock()
			// The stage may have moved on between validation and the lock
			// (a timer fired, a check answered): check again.
			if err := c.validate(act, req); err != nil {
				return ActionResult{}, domainError(err)
			}
			if err := c.apply(ctx, act, req); err != nil {
				return ActionResult{}, err
			}
			return ActionResult{Stage: c.state.Stage, Seq: c.state.Seq}, nil
		},
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, req ActionRequest) error {
			if c.inFlight > 0 {
				return domainError(civicflow.Errorf(civicflow.ECONFLICT, "another action on this case is being recorded; reload and try again"))
			}
			return domainError(c.validate(act, req))
		}},
	)
}

// validate checks actor, stage and the action's own fields. It must not
// change state: validators run before anything is written to history.
func (c *careCase) validate(act civicflow.Action, req ActionRequest) error {
	if err := civicflow.Authorize(req.Actor, act, c.scope()); err != nil {
		return err
	}
	var bad []civicflow.FieldError
	need := func(field, value string) {
		if strings.TrimSpace(value) == "" {
			bad = append(bad, civicflow.FieldError{Field: field, Reason: "is required"})
		}
	}
	switch act {
	case civicflow.ActionReject, civicflow.ActionReturn:
		need("reasons", req.Reasons)
	case civicflow.ActionLodgeObjection:
		need("reasons", req.Reasons)
	case civicflow.ActionRequestSupplements:
		if len(req.Items) == 0 {
			bad = append(bad, civicflow.FieldError{Field: "items", Reason: "list every missing paper at once; at least one"})
		}
		for i, it := range req.Items {
			need(fmt.Sprintf("items[%d]", i), it)
		}
	case civicflow.ActionProvideSupplements:
		if len(req.DocumentIDs) == 0 && strings.TrimSpace(req.Note) == "" {
			bad = append(bad, civicflow.FieldError{Field: "document_ids", Reason: "add at least one paper or a note"})
		}
	case civicflow.ActionRecordInvestigation:
		v := req.HomeVisit
		if v == nil {
			bad = append(bad, civicflow.FieldError{Field: "home_visit", Reason: "is required"})
			break
		}
		need("home_visit.visited_on", v.VisitedOn)
		need("home_visit.findings", v.Findings)
		if !v.CareLevel.Valid() {
			bad = append(bad, civicflow.FieldError{Field: "home_visit.care_level", Reason: "must be self_care, semi_dependent or dependent"})
		}
		switch v.Opinion {
		case OpinionEligible:
		case OpinionIneligible:
			need("reasons", req.Reasons)
		default:
			bad = append(bad, civicflow.FieldError{Field: "home_visit.opinion", Reason: "must be eligible or ineligible"})
		}
	case civicflow.ActionApprove:
		if req.CareLevel != "" && !req.CareLevel.Valid() {
			bad = append(bad, civicflow.FieldError{Field: "care_level", Reason: "must be self_care, semi_dependent or dependent"})
		}
	}
	if len(bad) > 0 {
		return civicflow.Invalid(bad...)
	}
	return nil
}

// apply performs a validated action while holding the lock.
func (c *careCase) apply(ctx workflow.Context, act civicflow.Action, req ActionRequest) error {
	s := step{action: string(act), actor: req.Actor, reasons: req.Reasons}
	switch act {
	case civicflow.ActionAccept:
		s.to = civicflow.StageInvestigation
		c.startRound()
	case civicflow.ActionRequestSupplements:
		s.to, s.waitingFor = civicflow.StageAwaitingSupplements, req.Items
		s.details = map[string]any{"items": req.Items}
	case civicflow.ActionProvideSupplements:
		s.to, s.waitingFor = civicflow.StageIntake, []string{}
		s.details = map[string]any{"document_ids": req.DocumentIDs, "note": req.Note}
	case civicflow.ActionReject:
		s.to, s.waitingFor = civicflow.StageRejected, []string{}
	case civicflow.ActionWithdraw:
		s.to, s.waitingFor = civicflow.StageWithdrawn, []string{}
	case civicflow.ActionRecordInvestigation:
		v := *req.HomeVisit
		s.details, s.careLevel = v, v.CareLevel
		s.to = civicflow.StageInvestigation
		if v.Opinion == OpinionIneligible {
			s.to = civicflow.StageRejected
		}
	case civicflow.ActionLodgeObjection:
		s.to = civicflow.StageInvestigation
		s.details = map[string]any{"objector": req.Objector}
		c.startRound()
	case civicflow.ActionApprove:
		s.to, s.careLevel = civicflow.StagePlacement, req.CareLevel
		if s.careLevel == "" {
			s.careLevel = c.state.CareLevel
		}
	case civicflow.ActionReturn:
		s.to = civicflow.StageInvestigation
		c.startRound()
	case civicflow.ActionConfirmAdmission:
		s.to, s.admit = civicflow.StageCompleted, c.state.AllocationID
		start := civicflow.SupportStart(workflow.Now(ctx))
		s.supportStart = &start
		s.details = map[string]any{"support_start": start.Format("2006-01-02")}
	default:
		return fmt.Errorf("no handler for action %s", act)
	}
	if err := c.stepLocked(ctx, s); err != nil {
		return err
	}
	if act == civicflow.ActionRecordInvestigation {
		c.state.HomeVisit = req.HomeVisit
	}
	return nil
}

// startRound begins an investigation round: a new home visit and a new
// household check are needed. Callers start the round before the step that
// enters investigation, so the main loop never sees the stage without it.
func (c *careCase) startRound() {
	c.state.Round++
	c.state.HomeVisit = nil
	c.state.Check = nil
	c.checkDone = false
}

// investigate runs the household check of the current round while the
// township official visits, and opens the public notice once both are done.
func (c *careCase) investigate(ctx workflow.Context) error {
	round := c.state.Round
	checkCtx, cancel := workflow.WithCancel(workflow.WithActivityOptions(ctx, checkOptions))
	defer cancel()
	fut := workflow.ExecuteActivity(checkCtx, a.CheckHousehold, activities.CheckInput{CaseID: c.in.CaseID, Round: round})
	var res civicflow.CheckResult
	var checkErr error
	answered := false
	workflow.Go(ctx, func(gctx workflow.Context) {
		checkErr = fut.Get(gctx, &res)
		answered = true
	})
	inRound := func() bool { return c.state.Stage == civicflow.StageInvestigation && c.state.Round == round }
	if err := workflow.Await(ctx, func() bool { return answered || !inRound() }); err != nil {
		return err
	}
	if !inRound() {
		return nil // withdrawn, rejected, or a new round began
	}
	details := map[string]any{"round": round}
	if checkErr != nil {
		details["error"] = checkErr.Error()
		res = civicflow.CheckResult{Found: false, Note: "the household check failed: " + checkErr.Error()}
	} else {
		details["result"] = res
	}
	if err := c.step(ctx, step{action: "economic_check_completed", to: civicflow.StageInvestigation,
		actor: civicflow.SystemActor, details: details}); err != nil {
		return err
	}
	c.state.Check, c.checkDone = &res, true

	if err := workflow.Await(ctx, func() bool { return c.state.HomeVisit != nil || !inRound() }); err != nil {
		return err
	}
	if !inRound() {
		return nil
	}
	now := workflow.Now(ctx)
	ends := now.Add(c.in.NoticePeriod)
	var clock *civicflow.StageClock
	if c.deadlines && !c.clockInStep {
		// The notice lasts as long as the jurisdiction's rule says, unless
		// the input fixed it; the clock's due date is the notice's end.
		clk, err := c.readClock(ctx, activities.StageClockInput{Op: activities.ClockStart,
			Stage: civicflow.StagePublicNotice, At: now, Seq: c.state.Seq + 1})
		if err != nil {
			return fmt.Errorf("stage clock for %s: %w", civicflow.StagePublicNotice, err)
		}
		if !c.noticeOverride && clk.Timed() {
			ends = clk.Due
		}
		clk.Due, clk.RemindAt = ends, time.Time{}
		clock = &clk
	}
	minor := civicflow.IsMinor(civicflow.AgeOn(c.in.BirthDate, now.In(civicflow.ChinaZone())))
	c.state.Listed = !minor
	return c.step(ctx, step{action: "public_notice_started", to: civicflow.StagePublicNotice,
		actor: civicflow.SystemActor, noticeEndsAt: &ends, clock: clock,
		details: map[string]any{"ends_at": ends, "listed": !minor, "round": round}})
}

// publicNotice waits out 公示 on a durable timer; an objection moves the
// case back to investigation before it ends.
func (c *careCase) publicNotice(ctx workflow.Context) error {
	round := c.state.Round
	remaining := c.in.NoticePeriod
	if c.state.NoticeEndsAt != nil {
		remaining = c.state.NoticeEndsAt.Sub(workflow.Now(ctx))
	}
	inNotice := func() bool { return c.state.Stage == civicflow.StagePublicNotice && c.state.Round == round }
	if remaining > 0 {
		if _, err := workflow.AwaitWithTimeout(ctx, remaining, func() bool { return !inNotice() }); err != nil {
			return err
		}
	}
	if err := c.mu.Lock(ctx); err != nil {
		return err
	}
	defer c.mu.Unlock()
	if !inNotice() {
		return nil
	}
	return c.stepLocked(ctx, step{action: "public_notice_ended", to: civicflow.StageDistrictReview,
		actor: civicflow.SystemActor, details: map[string]any{"objections": 0}})
}

// place asks for a bed; without one, the case waits on the wait-list until
// a departure offers it one.
func (c *careCase) place(ctx workflow.Context) error {
	var p postgres.Placement
	err := workflow.ExecuteActivity(ctx, a.AllocateBed, activities.AllocateInput{
		CaseID: c.in.CaseID, CareLevel: c.state.CareLevel, DistrictCode: c.in.DistrictCode}).Get(ctx, &p)
	if err != nil {
		return fmt.Errorf("allocate bed: %w", err)
	}
	if p.Allocation != nil {
		al := p.Allocation
		// The institution is part of the case's scope before the step is
		// recorded: once the read model shows awaiting_admission, the
		// institution's staff may confirm at once, and the update's
		// validator must not see a case without institution (found by the
		// fault tests, chaos/). Only state changes here, no commands, so
		// old histories replay unchanged.
		c.state.AllocationID, c.state.InstitutionID = al.ID, al.InstitutionID
		if err := c.step(ctx, step{action: "bed_allocated", to: civicflow.StageAwaitingAdmission, actor: civicflow.SystemActor,
			details: map[string]any{"institution_id": al.InstitutionID, "institution": al.Institution,
				"bed": al.BedLabel, "allocation_id": al.ID, "care_level": al.CareLevel}}); err != nil {
			return err
		}
		return nil
	}
	if c.state.Stage != civicflow.StageWaitlisted {
		if err := c.step(ctx, step{action: "waitlisted", to: civicflow.StageWaitlisted, actor: civicflow.SystemActor,
			details: map[string]any{"position": p.Position, "care_level": c.state.CareLevel}}); err != nil {
			return err
		}
	}
	var offer BedOffer
	workflow.GetSignalChannel(ctx, SignalBedOffered).Receive(ctx, &offer)
	return nil // place runs again and finds the offered bed
}
