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

// versionSupplementsOnce marks runs that refuse a second request for
// supplements (issue 22, 一次性告知): the first request records that the
// papers were asked for. Asked only when papers are requested, so other
// histories do not change.
const versionSupplementsOnce = "supplements-once"

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
	// reject, withdraw) never reach it; accept, approve and return do. It
	// must not change the pipeline's state: what the case keeps besides
	// the stage goes into the step's edit, applied to the proposal.
	next(ctx workflow.Context, act civicflow.Action, req ActionRequest) (step, error)
}

// tracked is everything a step changes: the case's state and its stage
// clock. A step never changes it in place: it computes a new one from the
// current (clone, then the step's changes), proposes it while the write is
// in flight and commits it once the write succeeded.
type tracked struct {
	state    CaseState
	clock    *civicflow.StageClock // the current stage's clock; nil: none
	clockGen int                   // bumped whenever clock changes
	reminded bool                  // the current clock's reminder was recorded
	breached bool                  // the current clock's breach was recorded
}

// clone copies t deeply enough that changing the copy leaves t alone.
func (t tracked) clone() tracked {
	t.state = t.state.clone()
	return t
}

// pipeline is the state the pipeline keeps for one running case.
type pipeline struct {
	caseID   int64
	caseType civicflow.CaseType
	district string
	township string
	mu       workflow.Mutex
	inFlight int // action updates being applied
	end      ending

	// rec is the case as recorded in the read model; next, while a step's
	// write is in flight, the case that write will commit. Decisions about
	// what may happen next (update validators, the authorisation scope,
	// the main loop and the deadline watcher) read the proposal through
	// cur(): the API checks against the read model and may send the next
	// action as soon as the write is visible there, before the workflow
	// hears that it committed. A failed write drops the proposal and leaves
	// rec untouched. Saved histories replay unchanged because every wait
	// sees the stage move at the same point as before the step was pure.
	rec  tracked
	next *tracked

	// Stage deadlines (versionStageDeadlines, docs/deadlines.md).
	deadlines bool // this run keeps stage clocks
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
	// award is written with the step (RecordAward) when set: an approved
	// education grant.
	award *civicflow.AwardWrite
	// dispersed is written with the step (RecordDispersed) when set: an
	// approval in dispersed support, entering the register.
	dispersed *civicflow.DispersedWrite
	// termination is written with the step (EndSupport) when set: a
	// confirmed termination ending the period of support; a bed it frees
	// for a waiting case is offered once the step is recorded (offerBed).
	termination *civicflow.TerminationWrite
	// release gives up an allocation before admission along with the step
	// (ReleaseAllocation); the case the bed then goes to is woken once
	// the step is recorded (offerBed).
	release *civicflow.Release
	// edit changes the proposed state along with the step: what the
	// ending keeps besides the stage (a new investigation round, the home
	// visit, the rehab part). It gets a copy, never the recorded state.
	edit func(*CaseState)
}

// sharedActions are the pipeline's own update names.
var sharedActions = []civicflow.Action{
	civicflow.ActionAccept, civicflow.ActionRequestSupplements, civicflow.ActionReject,
	civicflow.ActionProvideSupplements, civicflow.ActionWithdraw, civicflow.ActionApprove, civicflow.ActionReturn,
}

// register installs the state query and every action's update handler.
func (p *pipeline) register(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (CaseState, error) { return p.rec.state, nil }); err != nil {
		return err
	}
	for _, act := range append(append([]civicflow.Action{}, sharedActions...), p.end.actions()...) {
		if err := p.registerAction(ctx, act); err != nil {
			return err
		}
	}
	return nil
}

// cur is the case as the next decision sees it: the proposal of the step
// being written, or else the recorded case (see pipeline.rec).
func (p *pipeline) cur() *tracked {
	if p.next != nil {
		return p.next
	}
	return &p.rec
}

// state is the case as the next decision sees it (cur).
func (p *pipeline) state() *CaseState { return &p.cur().state }

// over reports whether the case has ended: its recorded stage is
// terminal. A proposal's terminal stage does not end it, since its write
// may yet be refused; the loops wait for the commit.
func (p *pipeline) over() bool { return p.rec.state.Stage.Terminal() }

// edit applies a change that is not a step (a signal counted, a reminder
// noted) to the recorded case and to the proposal in flight, so that
// committing the proposal does not undo it.
func (p *pipeline) edit(change func(*tracked)) {
	change(&p.rec)
	if p.next != nil {
		change(p.next)
	}
}

// step records a transition in the read model and then commits it to the
// workflow's state. Callers hold no lock; step takes it.
func (p *pipeline) step(ctx workflow.Context, s step) error {
	if err := p.mu.Lock(ctx); err != nil {
		return err
	}
	defer p.mu.Unlock()
	return p.stepLocked(ctx, s)
}

// stepLocked computes the next state and the write from the current state
// without changing it, proposes the next state while the write is in
// flight (pipeline.rec), and commits it once the write succeeded. A write
// that fails (only a non-retryable one can) leaves the case as it was.
func (p *pipeline) stepLocked(ctx workflow.Context, s step) error {
	// Update handlers get a context without the workflow's options.
	ctx = workflow.WithActivityOptions(ctx, recordOptions)
	cur := p.cur()
	next, t := p.plan(s, cur, workflow.Now(ctx))
	changed := cur.state.Stage != s.to
	p.next = &next
	defer func() { p.next = nil }()
	var clockReq *activities.StageClockInput
	switch {
	case p.deadlines && changed && p.clockInStep:
		req, clk := p.planClock(s, &next, t.Seq, t.At)
		if req == nil {
			next.applyClock(activities.ClockStart, clk)
			t.StageDueAt = next.state.StageDueAt
			break
		}
		// The write brings the new clock; until then the deadline
		// watcher waits without one. The write takes the case and the time
		// from the transition, so they are not sent twice.
		req.CaseID, req.At = 0, time.Time{}
		clockReq = req
		next.clock, next.clockGen = nil, next.clockGen+1
		next.setDue()
	case p.deadlines && changed:
		if err := p.enterClock(ctx, s, &next, t.Seq, t.At); err != nil {
			return fmt.Errorf("stage clock for %s: %w", s.to, err)
		}
		t.StageDueAt = next.state.StageDueAt
	}
	if s.due != nil {
		due := *s.due
		t.StageDueAt = &due
	}
	res, freed, err := p.write(ctx, s, t, clockReq)
	if err == nil && clockReq != nil {
		if res.Clock == nil {
			err = fmt.Errorf("the write of %s answered no clock", s.action)
		} else {
			next.applyClock(clockReq.Op, res.Clock)
			if res.NoticeEndsAt != nil {
				next.state.NoticeEndsAt = res.NoticeEndsAt
			}
		}
	}
	if err != nil {
		return fmt.Errorf("record %s: %w", s.action, err)
	}
	if s.due != nil && (next.clock == nil || !next.clock.Timed()) {
		due := *s.due
		next.state.StageDueAt = &due
	}
	p.rec = next
	if err := offerBed(ctx, freed); err != nil {
		// The step is recorded and the bed is the next case's in the
		// store; only the wake-up failed (its run ended meanwhile).
		workflow.GetLogger(ctx).Error("freed bed not offered", "error", err)
	}
	switch {
	case !p.stageAttrs:
	case (changed && p.deadlines) || s.due != nil:
		due := AttrStageDue.ValueUnset()
		if p.rec.state.StageDueAt != nil {
			due = AttrStageDue.ValueSet(*p.rec.state.StageDueAt)
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

// plan is the pure part of a step: the state the case will have once step
// s is recorded, computed from cur without changing it, and the write
// that records it.
func (p *pipeline) plan(s step, cur *tracked, at time.Time) (tracked, civicflow.Transition) {
	next := cur.clone()
	if s.edit != nil {
		s.edit(&next.state)
	}
	seq := cur.state.Seq + 1
	t := civicflow.Transition{
		CaseID: p.caseID, Key: fmt.Sprintf("step-%d", seq), Seq: seq, Action: s.action,
		From: cur.state.Stage, To: s.to, Actor: s.actor, Reasons: s.reasons, Details: s.details,
		At: at, WaitingFor: s.waitingFor, CareLevel: s.careLevel,
		NoticeEndsAt: s.noticeEndsAt, SupportStart: s.supportStart,
	}
	st := &next.state
	st.Seq, st.Stage = seq, s.to
	if s.waitingFor != nil {
		st.WaitingFor = s.waitingFor
	}
	if s.careLevel != "" {
		st.CareLevel = s.careLevel
	}
	if s.to == civicflow.StagePublicNotice {
		st.NoticeEndsAt = s.noticeEndsAt
	} else {
		st.NoticeEndsAt = nil
	}
	if s.supportStart != nil {
		st.SupportStart = s.supportStart
	}
	return next, t
}

// write runs the activity that records step s as transition t: one
// activity, whatever else the step writes with it. freed is the bed a
// release gave to another case (zero otherwise).
func (p *pipeline) write(ctx workflow.Context, s step, t civicflow.Transition, clock *activities.StageClockInput) (res activities.RecordResult, freed civicflow.Departure, err error) {
	switch {
	case s.release != nil:
		r := *s.release
		r.Transition = t
		err = workflow.ExecuteActivity(ctx, a.ReleaseAllocation, activities.ReleaseAllocationInput{Release: r}).Get(ctx, &freed)
	case s.admit != 0:
		err = workflow.ExecuteActivity(ctx, a.ConfirmAdmission, activities.AdmissionInput{AllocationID: s.admit, Transition: t}).Get(ctx, nil)
	case s.rehab != nil:
		w := *s.rehab
		w.Transition = t
		err = workflow.ExecuteActivity(ctx, a.RecordRehabStep, activities.RehabStepInput{Step: w, Clock: clock}).Get(ctx, &res)
	case s.award != nil:
		w := *s.award
		w.Transition = t
		err = workflow.ExecuteActivity(ctx, a.RecordAward, activities.AwardInput{Award: w, Clock: clock}).Get(ctx, &res)
	case s.dispersed != nil:
		w := *s.dispersed
		w.Transition = t
		err = workflow.ExecuteActivity(ctx, a.RecordDispersed, activities.DispersedInput{Write: w}).Get(ctx, nil)
	case s.termination != nil:
		w := *s.termination
		w.Transition = t
		err = workflow.ExecuteActivity(ctx, a.EndSupport, activities.TerminationInput{Write: w}).Get(ctx, &freed)
	default:
		err = workflow.ExecuteActivity(ctx, a.RecordTransition, activities.RecordInput{Transition: t, Clock: clock}).Get(ctx, &res)
	}
	return res, freed, err
}

// scope is the authorisation scope as the workflow knows it.
func (p *pipeline) scope() civicflow.Scope {
	st := p.state()
	s := civicflow.Scope{CaseID: p.caseID, CaseType: p.caseType, Stage: st.Stage, DistrictCode: p.district,
		TownshipCode: p.township, InstitutionID: st.InstitutionID}
	if st.Rehab != nil {
		s.RehabCentreID = st.Rehab.CentreID
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
				// A write refused by the store arrives as the activity's
				// application error already; a refusal of the ending's own
				// is a domain error, which the caller must see as such.
				return ActionResult{}, domainError(err)
			}
			return ActionResult{Stage: p.rec.state.Stage, Seq: p.rec.state.Seq}, nil
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
	if act == civicflow.ActionRequestSupplements && p.state().SupplementsRequested {
		// 一次性告知: everything missing is listed at once, so once the
		// applicant has handed it in the township accepts or refuses.
		return civicflow.Errorf(civicflow.ECONFLICT,
			"the missing papers were listed once already (一次性告知) and handed in: accept or refuse the application")
	}
	var bad []civicflow.FieldError
	need := func(field, value string) {
		if strings.TrimSpace(value) == "" {
			bad = append(bad, civicflow.FieldError{Field: field, Reason: "is required"})
		}
	}
	if civicflow.NeedsReasons(p.caseType, act, req.Actor.Role) {
		need("reasons", req.Reasons)
	}
	switch act {
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
		// Runs that asked for papers before the rule existed keep their
		// history: the version is asked only on this path.
		if workflow.GetVersion(ctx, versionSupplementsOnce, workflow.DefaultVersion, 1) >= 1 {
			s.edit = func(st *CaseState) { st.SupplementsRequested = true }
		}
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
	return p.stepLocked(ctx, s)
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
// number, at its time) and the due date the case shows in next, reading
// it with the StageClock activity (runs without clockInStep).
func (p *pipeline) enterClock(ctx workflow.Context, s step, next *tracked, seq int, at time.Time) error {
	in, clk := p.planClock(s, next, seq, at)
	if in == nil {
		next.applyClock(activities.ClockStart, clk)
		return nil
	}
	read, err := p.readClock(ctx, *in)
	if err != nil {
		return err
	}
	next.applyClock(in.Op, &read)
	return nil
}

// planClock says how the stage step s enters gets its clock: from the
// step itself or none (a nil request, the clock to use), or by asking the
// store (the request: start a new clock, or pause or resume the current,
// which next still holds).
func (p *pipeline) planClock(s step, next *tracked, seq int, at time.Time) (*activities.StageClockInput, *civicflow.StageClock) {
	switch {
	case s.clock != nil:
		return nil, s.clock
	case s.to.Terminal():
		return nil, nil
	}
	in := activities.StageClockInput{Op: activities.ClockStart, CaseID: p.caseID, CaseType: p.caseType,
		DistrictCode: p.district, Stage: s.to, At: at, Seq: seq}
	clk := next.clock
	switch {
	case s.to == civicflow.StageAwaitingSupplements && clk != nil && clk.Timed():
		in.Op, in.Clock = activities.ClockPause, clk
	case s.to == civicflow.StageIntake && clk != nil && clk.Paused && clk.Stage == civicflow.StageIntake:
		in.Op, in.Clock = activities.ClockResume, clk
	case s.to == civicflow.StagePublicNotice && s.noticeEndsAt != nil:
		in.NoticeEnds, in.NoticeFromRule = s.noticeEndsAt, p.noticeFromRule
	}
	return &in, nil
}

// applyClock makes clk the current clock (op is how it was made). A
// clock that stops or runs on keeps what it already recorded; a new one
// may remind and escalate again.
func (t *tracked) applyClock(op string, clk *civicflow.StageClock) {
	if op != activities.ClockStart && clk != nil {
		t.clock, t.clockGen = clk, t.clockGen+1
	} else {
		t.clock, t.clockGen, t.reminded, t.breached = clk, t.clockGen+1, false, false
	}
	t.setDue()
}

// setDue shows the clock's due date in the case's state.
func (t *tracked) setDue() {
	t.state.StageDueAt = nil
	if t.clock != nil && t.clock.Timed() {
		due := t.clock.Due
		t.state.StageDueAt = &due
	}
}

// watchDeadline runs beside the main loop for the whole case: it waits for
// the current clock's reminder and then its due date, and records each once
// (timeline and notifications, RecordDeadlineEvent). A new clock (the stage
// changed, the clock stopped or ran on) restarts the wait. Stages the
// system moves on by itself (public notice, placement) are not reminded.
func (p *pipeline) watchDeadline(ctx workflow.Context) {
	ctx = workflow.WithActivityOptions(ctx, recordOptions)
	for !p.over() {
		cur := p.cur()
		gen, clk := cur.clockGen, cur.clock
		moved := func() bool { return p.cur().clockGen != gen || p.over() }
		var at time.Time
		var action civicflow.Action
		if clk != nil && clk.Timed() && civicflow.ResponsibleRole(clk.Stage) != "" {
			switch {
			case !cur.reminded && !clk.RemindAt.IsZero():
				at, action = clk.RemindAt, civicflow.StepDeadlineReminder
			case !cur.breached:
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
		p.edit(func(t *tracked) {
			if action == civicflow.StepDeadlineReminder {
				t.reminded = true
			} else {
				t.breached = true
			}
		})
		err := workflow.ExecuteActivity(ctx, a.RecordDeadlineEvent, activities.DeadlineEventInput{
			CaseID: p.caseID, Action: action, Clock: *clk, At: workflow.Now(ctx)}).Get(ctx, nil)
		if err != nil {
			// Only a non-retryable error gets here; the event is lost, the
			// deadline itself still shows on the case.
			workflow.GetLogger(ctx).Error("deadline event not recorded", "action", action, "error", err)
		}
	}
}

// checkHousehold runs the household economic check (家庭经济状况核对) of
// round while the case stays in it (inRound), and records its answer, or
// its failure, as a step that stays in stage. It reports whether the
// round is still on once the answer is recorded.
func (p *pipeline) checkHousehold(ctx workflow.Context, round int, stage civicflow.Stage, inRound func() bool) (bool, error) {
	checkCtx, cancel := workflow.WithCancel(workflow.WithActivityOptions(ctx, checkOptions))
	defer cancel()
	fut := workflow.ExecuteActivity(checkCtx, a.CheckHousehold, activities.CheckInput{CaseID: p.caseID, Round: round})
	var res civicflow.CheckResult
	var checkErr error
	answered := false
	workflow.Go(ctx, func(gctx workflow.Context) {
		checkErr = fut.Get(gctx, &res)
		answered = true
	})
	if err := workflow.Await(ctx, func() bool { return answered || !inRound() }); err != nil {
		return false, err
	}
	if !inRound() {
		return false, nil // withdrawn, rejected, or a new round began
	}
	details := map[string]any{"round": round}
	if checkErr != nil {
		details["error"] = checkErr.Error()
		res = civicflow.CheckResult{Found: false, Note: "the household check failed: " + checkErr.Error()}
	} else {
		details["result"] = res
	}
	// Check the round again under the lock: an action whose write was in
	// flight when the check answered (the accept that began the round) may
	// have been refused meanwhile, and its round with it.
	if err := p.mu.Lock(ctx); err != nil {
		return false, err
	}
	defer p.mu.Unlock()
	if !inRound() {
		return false, nil
	}
	err := p.stepLocked(ctx, step{action: civicflow.StepEconomicCheckCompleted, to: stage,
		actor: civicflow.SystemActor, details: details,
		edit: func(st *CaseState) { st.Check = &res }})
	return err == nil, err
}

// awaitHandlers lets update handlers that are still running finish, before
// the run completes or continues as new.
func (p *pipeline) awaitHandlers(ctx workflow.Context) error {
	return workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
}

// place asks for a bed; without one, the case waits on the wait-list until
// a departure offers it one. Centralised care and the transfer from
// dispersed support share it.
func (p *pipeline) place(ctx workflow.Context) error {
	var pl civicflow.Placement
	err := workflow.ExecuteActivity(ctx, a.AllocateBed, activities.AllocateInput{
		CaseID: p.caseID, CareLevel: p.state().CareLevel, DistrictCode: p.district}).Get(ctx, &pl)
	if err != nil {
		return fmt.Errorf("allocate bed: %w", err)
	}
	if pl.Allocation != nil {
		al := pl.Allocation
		// The institution is part of the case's scope in the proposal, so
		// while the step is written: once the read model shows
		// awaiting_admission, the institution's staff may confirm at once,
		// and the update's validator must not see a case without
		// institution (found by the fault tests, chaos/).
		if err := p.step(ctx, step{action: civicflow.StepBedAllocated, to: civicflow.StageAwaitingAdmission, actor: civicflow.SystemActor,
			details: map[string]any{"institution_id": al.InstitutionID, "institution": al.Institution,
				"bed": al.BedLabel, "allocation_id": al.ID, "care_level": al.CareLevel},
			edit: func(st *CaseState) { st.AllocationID, st.InstitutionID = al.ID, al.InstitutionID }}); err != nil {
			return err
		}
		return nil
	}
	if p.state().Stage != civicflow.StageWaitlisted {
		if err := p.step(ctx, step{action: civicflow.StepWaitlisted, to: civicflow.StageWaitlisted, actor: civicflow.SystemActor,
			details: map[string]any{"position": pl.Position, "care_level": p.state().CareLevel}}); err != nil {
			return err
		}
	}
	var offer BedOffer
	workflow.GetSignalChannel(ctx, SignalBedOffered).Receive(ctx, &offer)
	return nil // place runs again and finds the offered bed
}

// awaitNotice waits out a public notice (公示) on a durable timer until
// its recorded end (or period from now, before one is recorded) and then
// records end, unless the case left the notice meanwhile (inNotice false:
// an objection, a withdrawal). Centralised care and the termination of
// support share it.
func (p *pipeline) awaitNotice(ctx workflow.Context, period time.Duration, inNotice func() bool, end step) error {
	remaining := period
	if ends := p.state().NoticeEndsAt; ends != nil {
		remaining = ends.Sub(workflow.Now(ctx))
	}
	if remaining > 0 {
		if _, err := workflow.AwaitWithTimeout(ctx, remaining, func() bool { return !inNotice() }); err != nil {
			return err
		}
	}
	if err := p.mu.Lock(ctx); err != nil {
		return err
	}
	defer p.mu.Unlock()
	if !inNotice() {
		return nil
	}
	return p.stepLocked(ctx, end)
}
