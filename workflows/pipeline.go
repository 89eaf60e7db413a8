package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"civicflow"
	"civicflow/activities"
	"civicflow/temporalerr"
)

// The application pipeline, shared by every process (issue 5): one
// application, township intake with the one-time list of missing papers
// (一次性告知), withdrawal, district review (approve, reject with written
// reasons, return) and the stage clocks (issue 4). A process is this
// pipeline with its own ending: what an accepted, approved or returned
// case does next, and the ending's own actions and stages. CentralisedCare
// (centralised_care.go) ends in an investigation, a public notice and a
// placement; CommunityRehab (community_rehab.go) in a rehab centre.
//
// The code here was moved out of CentralisedCare without changing a single
// command it issues: its saved histories replay unchanged (replay_test.go).
//
// Stage deadlines (versionStageDeadlines, docs/deadlines.md): when a stage
// starts, its clock (due date, reminder time) is read once — with the
// step's write (clockInStep) or, in runs started before that, by a
// StageClock activity of its own — and the workflow only keeps it and sets
// timers on it, so a rule changed later applies to stages that start after
// the change. Waiting for the applicant's supplements stops the intake
// clock; their arrival runs it on with the time that was left.

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
		NonRetryableErrorTypes: temporalerr.RetryPolicyTypes(),
	},
}

// ending is what a process adds to the pipeline.
type ending interface {
	// actions lists the ending's own update names.
	actions() []civicflow.Action
	// check validates the fields of the ending's actions, and the ending's
	// own fields of shared actions (the pipeline checked actor and stage).
	check(act civicflow.Action, req ActionRequest) []civicflow.FieldError
	// next gives the step of an action. Shared actions whose outcome is
	// the same in every process (request_supplements, provide_supplements,
	// reject, withdraw) never reach it; accept, approve and return do.
	next(ctx workflow.Context, act civicflow.Action, req ActionRequest) (step, error)
	// applied runs once the step of a validated action is recorded.
	applied(act civicflow.Action, req ActionRequest)
}

// pipeline is the state the pipeline keeps for one running case.
type pipeline struct {
	caseID   int64
	caseType civicflow.CaseType
	district string
	township string
	state    CaseState
	mu       workflow.Mutex
	inFlight int // action updates being applied
	end      ending

	// Stage deadlines (versionStageDeadlines, docs/deadlines.md).
	deadlines bool                  // this run keeps stage clocks
	clock     *civicflow.StageClock // the current stage's clock; nil: none
	clockGen  int                   // bumped whenever clock changes
	reminded  bool                  // the current clock's reminder was recorded
	breached  bool                  // the current clock's breach was recorded
	// clockInStep: the clock comes with the step's read-model write
	// (versionStageDeadlines 2) instead of a StageClock activity of its own.
	clockInStep bool
	// noticeFromRule: the jurisdiction's rule decides how long a public
	// notice lasts (the input did not fix it).
	noticeFromRule bool
	// stageAttrs: stage changes upsert CivicflowStage and CivicflowStageDue
	// (StageAttributes).
	stageAttrs bool
}

// step is one transition of the case.
type step struct {
	action       civicflow.Action
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
	// due sets the due date the case shows when the stage's clock gives
	// none (the next review of a rehab plan).
	due *time.Time
	// rehab is written with the step (RecordRehabStep) when set.
	rehab *civicflow.RehabStep
}

// sharedActions are the pipeline's own update names.
var sharedActions = []civicflow.Action{
	civicflow.ActionAccept, civicflow.ActionRequestSupplements, civicflow.ActionReject,
	civicflow.ActionProvideSupplements, civicflow.ActionWithdraw, civicflow.ActionApprove, civicflow.ActionReturn,
}

// register installs the state query and every action's update handler.
func (p *pipeline) register(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (CaseState, error) { return p.state, nil }); err != nil {
		return err
	}
	for _, act := range append(append([]civicflow.Action{}, sharedActions...), p.end.actions()...) {
		if err := p.registerAction(ctx, act); err != nil {
			return err
		}
	}
	return nil
}

// step records a transition in the read model and then applies it to the
// workflow's state. Callers hold no lock; step takes it.
func (p *pipeline) step(ctx workflow.Context, s step) error {
	if err := p.mu.Lock(ctx); err != nil {
		return err
	}
	defer p.mu.Unlock()
	return p.stepLocked(ctx, s)
}

func (p *pipeline) stepLocked(ctx workflow.Context, s step) error {
	// Update handlers get a context without the workflow's options.
	ctx = workflow.WithActivityOptions(ctx, recordOptions)
	seq := p.state.Seq + 1
	t := civicflow.Transition{
		CaseID: p.caseID, Key: fmt.Sprintf("step-%d", seq), Seq: seq, Action: s.action,
		From: p.state.Stage, To: s.to, Actor: s.actor, Reasons: s.reasons, Details: s.details,
		At: workflow.Now(ctx), WaitingFor: s.waitingFor, CareLevel: s.careLevel,
		NoticeEndsAt: s.noticeEndsAt, SupportStart: s.supportStart,
	}
	// The state moves first, so that an update validated while the write is
	// in flight already sees the stage the read model is about to show (the
	// API checks against the read model and may send it at once). Handlers
	// wait on the lock held here before they act.
	prev := p.state
	changed := p.state.Stage != s.to
	p.state.Seq, p.state.Stage = seq, s.to
	if s.waitingFor != nil {
		p.state.WaitingFor = s.waitingFor
	}
	if s.careLevel != "" {
		p.state.CareLevel = s.careLevel
	}
	if s.to == civicflow.StagePublicNotice {
		p.state.NoticeEndsAt = s.noticeEndsAt
	} else {
		p.state.NoticeEndsAt = nil
	}
	if s.supportStart != nil {
		p.state.SupportStart = s.supportStart
	}
	prevClock, prevGen, prevReminded, prevBreached := p.clock, p.clockGen, p.reminded, p.breached
	var clockReq *activities.StageClockInput
	switch {
	case p.deadlines && changed && p.clockInStep:
		req, next := p.planClock(s, seq, t.At)
		if req == nil {
			p.applyClock(activities.ClockStart, next)
			t.StageDueAt = p.state.StageDueAt
			break
		}
		// The write brings the new clock; until then the deadline
		// watcher waits without one. The write takes the case and the time
		// from the transition, so they are not sent twice.
		req.CaseID, req.At = 0, time.Time{}
		clockReq = req
		p.clock, p.clockGen = nil, p.clockGen+1
		p.setDue()
	case p.deadlines && changed:
		if err := p.enterClock(ctx, s, seq, t.At); err != nil {
			p.state = prev
			return fmt.Errorf("stage clock for %s: %w", s.to, err)
		}
		t.StageDueAt = p.state.StageDueAt
	}
	if s.due != nil {
		due := *s.due
		t.StageDueAt = &due
	}
	var err error
	var res activities.RecordResult
	switch {
	case s.admit != 0:
		err = workflow.ExecuteActivity(ctx, a.ConfirmAdmission, activities.AdmissionInput{AllocationID: s.admit, Transition: t}).Get(ctx, nil)
	case s.rehab != nil:
		w := *s.rehab
		w.Transition = t
		err = workflow.ExecuteActivity(ctx, a.RecordRehabStep, activities.RehabStepInput{Step: w, Clock: clockReq}).Get(ctx, &res)
	default:
		err = workflow.ExecuteActivity(ctx, a.RecordTransition, activities.RecordInput{Transition: t, Clock: clockReq}).Get(ctx, &res)
	}
	if err == nil && clockReq != nil {
		if res.Clock == nil {
			err = fmt.Errorf("the write of %s answered no clock", s.action)
		} else {
			p.applyClock(clockReq.Op, res.Clock)
			if res.NoticeEndsAt != nil {
				p.state.NoticeEndsAt = res.NoticeEndsAt
			}
		}
	}
	if err != nil {
		p.state = prev // only a non-retryable (invalid) write gets here
		p.clock, p.clockGen, p.reminded, p.breached = prevClock, prevGen, prevReminded, prevBreached
		return fmt.Errorf("record %s: %w", s.action, err)
	}
	if s.due != nil && (p.clock == nil || !p.clock.Timed()) {
		due := *s.due
		p.state.StageDueAt = &due
	}
	switch {
	case !p.stageAttrs:
	case (changed && p.deadlines) || s.due != nil:
		due := AttrStageDue.ValueUnset()
		if p.state.StageDueAt != nil {
			due = AttrStageDue.ValueSet(*p.state.StageDueAt)
		}
		if err := workflow.UpsertTypedSearchAttributes(ctx, AttrStage.ValueSet(string(s.to)), due); err != nil {
			return fmt.Errorf("upsert stage attributes: %w", err)
		}
	case changed:
		if err := workflow.UpsertTypedSearchAttributes(ctx, AttrStage.ValueSet(string(s.to))); err != nil {
			return fmt.Errorf("upsert stage attribute: %w", err)
		}
	}
	return nil
}

// scope is the authorisation scope as the workflow knows it.
func (p *pipeline) scope() civicflow.Scope {
	s := civicflow.Scope{CaseID: p.caseID, Stage: p.state.Stage, DistrictCode: p.district,
		TownshipCode: p.township, InstitutionID: p.state.InstitutionID}
	if p.state.Rehab != nil {
		s.RehabCentreID = p.state.Rehab.CentreID
	}
	return s
}

// domainError is temporalerr.Update: the caller of an update receives
// the domain error.
func domainError(err error) error { return temporalerr.Update(err) }

func (p *pipeline) registerAction(ctx workflow.Context, act civicflow.Action) error {
	return workflow.SetUpdateHandlerWithOptions(ctx, string(act),
		func(ctx workflow.Context, req ActionRequest) (ActionResult, error) {
			p.inFlight++
			defer func() { p.inFlight-- }()
			if err := p.mu.Lock(ctx); err != nil {
				return ActionResult{}, err
			}
			defer p.mu.Unlock()
			// The stage may have moved on between validation and the lock
			// (a timer fired, a check answered): check again.
			if err := p.validate(act, req); err != nil {
				return ActionResult{}, domainError(err)
			}
			if err := p.apply(ctx, act, req); err != nil {
				return ActionResult{}, err
			}
			return ActionResult{Stage: p.state.Stage, Seq: p.state.Seq}, nil
		},
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, req ActionRequest) error {
			if p.inFlight > 0 {
				return domainError(civicflow.Errorf(civicflow.ECONFLICT, "another action on this case is being recorded; reload and try again"))
			}
			return domainError(p.validate(act, req))
		}},
	)
}

// validate checks actor, stage and the action's own fields. It must not
// change state: validators run before anything is written to history.
func (p *pipeline) validate(act civicflow.Action, req ActionRequest) error {
	if err := civicflow.Authorize(req.Actor, act, p.scope()); err != nil {
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
	}
	bad = append(bad, p.end.check(act, req)...)
	if len(bad) > 0 {
		return civicflow.Invalid(bad...)
	}
	return nil
}

// apply performs a validated action while holding the lock.
func (p *pipeline) apply(ctx workflow.Context, act civicflow.Action, req ActionRequest) error {
	s := step{action: act, actor: req.Actor, reasons: req.Reasons}
	switch act {
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
	default:
		var err error
		if s, err = p.end.next(ctx, act, req); err != nil {
			return err
		}
	}
	if err := p.stepLocked(ctx, s); err != nil {
		return err
	}
	p.end.applied(act, req)
	return nil
}

// readClock runs the StageClock activity for this case (runs without
// clockInStep).
func (p *pipeline) readClock(ctx workflow.Context, in activities.StageClockInput) (civicflow.StageClock, error) {
	in.CaseID, in.CaseType, in.DistrictCode = p.caseID, p.caseType, p.district
	var out civicflow.StageClock
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, recordOptions), a.StageClock, in).Get(ctx, &out)
	return out, err
}

// enterClock sets the clock of the stage step s enters (seq is the step's
// number, at its time) and the due date the case shows, reading it with
// the StageClock activity (runs without clockInStep).
func (p *pipeline) enterClock(ctx workflow.Context, s step, seq int, at time.Time) error {
	in, next := p.planClock(s, seq, at)
	if in == nil {
		p.applyClock(activities.ClockStart, next)
		return nil
	}
	clk, err := p.readClock(ctx, *in)
	if err != nil {
		return err
	}
	p.applyClock(in.Op, &clk)
	return nil
}

// planClock says how the stage step s enters gets its clock: from the
// step itself or none (a nil request, the clock to use), or by asking the
// store (the request: start a new clock, or pause or resume the current).
func (p *pipeline) planClock(s step, seq int, at time.Time) (*activities.StageClockInput, *civicflow.StageClock) {
	switch {
	case s.clock != nil:
		return nil, s.clock
	case s.to.Terminal():
		return nil, nil
	}
	in := activities.StageClockInput{Op: activities.ClockStart, CaseID: p.caseID, CaseType: p.caseType,
		DistrictCode: p.district, Stage: s.to, At: at, Seq: seq}
	switch {
	case s.to == civicflow.StageAwaitingSupplements && p.clock != nil && p.clock.Timed():
		in.Op, in.Clock = activities.ClockPause, p.clock
	case s.to == civicflow.StageIntake && p.clock != nil && p.clock.Paused && p.clock.Stage == civicflow.StageIntake:
		in.Op, in.Clock = activities.ClockResume, p.clock
	case s.to == civicflow.StagePublicNotice && s.noticeEndsAt != nil:
		in.NoticeEnds, in.NoticeFromRule = s.noticeEndsAt, p.noticeFromRule
	}
	return &in, nil
}

// applyClock makes next the current clock (op is how it was made). A
// clock that stops or runs on keeps what it already recorded; a new one
// may remind and escalate again.
func (p *pipeline) applyClock(op string, next *civicflow.StageClock) {
	if op != activities.ClockStart && next != nil {
		p.clock, p.clockGen = next, p.clockGen+1
	} else {
		p.clock, p.clockGen, p.reminded, p.breached = next, p.clockGen+1, false, false
	}
	p.setDue()
}

// setDue shows the clock's due date in the workflow's state.
func (p *pipeline) setDue() {
	p.state.StageDueAt = nil
	if p.clock != nil && p.clock.Timed() {
		due := p.clock.Due
		p.state.StageDueAt = &due
	}
}

// watchDeadline runs beside the main loop for the whole case: it waits for
// the current clock's reminder and then its due date, and records each once
// (timeline and notifications, RecordDeadlineEvent). A new clock (the stage
// changed, the clock stopped or ran on) restarts the wait. Stages the
// system moves on by itself (public notice, placement) are not reminded.
func (p *pipeline) watchDeadline(ctx workflow.Context) {
	ctx = workflow.WithActivityOptions(ctx, recordOptions)
	for !p.state.Stage.Terminal() {
		gen, clk := p.clockGen, p.clock
		moved := func() bool { return p.clockGen != gen || p.state.Stage.Terminal() }
		var at time.Time
		var action civicflow.Action
		if clk != nil && clk.Timed() && civicflow.ResponsibleRole(clk.Stage) != "" {
			switch {
			case !p.reminded && !clk.RemindAt.IsZero():
				at, action = clk.RemindAt, civicflow.StepDeadlineReminder
			case !p.breached:
				at, action = clk.Due, civicflow.StepDeadlineBreached
			}
		}
		if action == "" {
			if err := workflow.Await(ctx, moved); err != nil {
				return
			}
			continue
		}
		if d := at.Sub(workflow.Now(ctx)); d > 0 {
			changed, err := workflow.AwaitWithTimeout(ctx, d, moved)
			if err != nil {
				return
			}
			if changed {
				continue
			}
		}
		if action == civicflow.StepDeadlineReminder {
			p.reminded = true
		} else {
			p.breached = true
		}
		err := workflow.ExecuteActivity(ctx, a.RecordDeadlineEvent, activities.DeadlineEventInput{
			CaseID: p.caseID, Action: action, Clock: *clk, At: workflow.Now(ctx)}).Get(ctx, nil)
		if err != nil {
			// Only a non-retryable error gets here; the event is lost, the
			// deadline itself still shows on the case.
			workflow.GetLogger(ctx).Error("deadline event not recorded", "action", action, "error", err)
		}
	}
}

// awaitHandlers lets update handlers that are still running finish, before
// the run completes or continues as new.
func (p *pipeline) awaitHandlers(ctx workflow.Context) error {
	return workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
}
