package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"civicflow"
	"civicflow/activities"
	"civicflow/postgres"
)

// Stage deadlines of CentralisedCare (versionStageDeadlines). When a stage
// starts, the StageClock activity reads the jurisdiction's limit and the
// working-day calendar once and returns the clock (due date, reminder
// time); the workflow only keeps it and sets timers on it, so a rule
// changed later applies to stages that start after the change. Waiting for
// the applicant's supplements stops the intake clock; their arrival runs it
// on with the time that was left. See docs/deadlines.md.

// readClock runs the StageClock activity for this case.
func (c *careCase) readClock(ctx workflow.Context, in activities.StageClockInput) (civicflow.StageClock, error) {
	in.CaseID, in.CaseType, in.DistrictCode = c.in.CaseID, civicflow.CaseTypeCentralisedCare, c.in.DistrictCode
	var out civicflow.StageClock
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, recordOptions), a.StageClock, in).Get(ctx, &out)
	return out, err
}

// enterClock sets the clock of the stage step s enters (seq is the step's
// number, at its time) and the due date the case shows, reading it with
// the StageClock activity (runs without versionStageDeadlines 2).
func (c *careCase) enterClock(ctx workflow.Context, s step, seq int, at time.Time) error {
	in, next := c.planClock(s, seq, at)
	if in == nil {
		c.applyClock(activities.ClockStart, next)
		return nil
	}
	clk, err := c.readClock(ctx, *in)
	if err != nil {
		return err
	}
	c.applyClock(in.Op, &clk)
	return nil
}

// planClock says how the stage step s enters gets its clock: from the
// step itself or none (a nil request, the clock to use), or by asking the
// store (the request: start a new clock, or pause or resume the current).
func (c *careCase) planClock(s step, seq int, at time.Time) (*activities.StageClockInput, *civicflow.StageClock) {
	switch {
	case s.clock != nil:
		return nil, s.clock
	case s.to.Terminal():
		return nil, nil
	}
	in := activities.StageClockInput{Op: activities.ClockStart, CaseID: c.in.CaseID, CaseType: civicflow.CaseTypeCentralisedCare,
		DistrictCode: c.in.DistrictCode, Stage: s.to, At: at, Seq: seq}
	switch {
	case s.to == civicflow.StageAwaitingSupplements && c.clock != nil && c.clock.Timed():
		in.Op, in.Clock = activities.ClockPause, c.clock
	case s.to == civicflow.StageIntake && c.clock != nil && c.clock.Paused && c.clock.Stage == civicflow.StageIntake:
		in.Op, in.Clock = activities.ClockResume, c.clock
	case s.to == civicflow.StagePublicNotice && s.noticeEndsAt != nil:
		in.NoticeEnds, in.NoticeFromRule = s.noticeEndsAt, !c.noticeOverride
	}
	return &in, nil
}

// applyClock makes next the current clock (op is how it was made). A
// clock that stops or runs on keeps what it already recorded; a new one
// may remind and escalate again.
func (c *careCase) applyClock(op string, next *civicflow.StageClock) {
	if op != activities.ClockStart && next != nil {
		c.clock, c.clockGen = next, c.clockGen+1
	} else {
		c.clock, c.clockGen, c.reminded, c.breached = next, c.clockGen+1, false, false
	}
	c.setDue()
}

// setDue shows the clock's due date in the workflow's state.
func (c *careCase) setDue() {
	c.state.StageDueAt = nil
	if c.clock != nil && c.clock.Timed() {
		due := c.clock.Due
		c.state.StageDueAt = &due
	}
}

// watchDeadline runs beside the main loop for the whole case: it waits for
// the current clock's reminder and then its due date, and records each once
// (timeline and notifications, RecordDeadlineEvent). A new clock (the stage
// changed, the clock stopped or ran on) restarts the wait. Stages the
// system moves on by itself (public notice, placement) are not reminded.
func (c *careCase) watchDeadline(ctx workflow.Context) {
	ctx = workflow.WithActivityOptions(ctx, recordOptions)
	for !c.state.Stage.Terminal() {
		gen, clk := c.clockGen, c.clock
		moved := func() bool { return c.clockGen != gen || c.state.Stage.Terminal() }
		var at time.Time
		action := ""
		if clk != nil && clk.Timed() && postgres.ResponsibleRole(clk.Stage) != "" {
			switch {
			case !c.reminded && !clk.RemindAt.IsZero():
				at, action = clk.RemindAt, postgres.ActionDeadlineReminder
			case !c.breached:
				at, action = clk.Due, postgres.ActionDeadlineBreached
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
		if action == postgres.ActionDeadlineReminder {
			c.reminded = true
		} else {
			c.breached = true
		}
		err := workflow.ExecuteActivity(ctx, a.RecordDeadlineEvent, activities.DeadlineEventInput{
			CaseID: c.in.CaseID, Action: action, Clock: *clk, At: workflow.Now(ctx)}).Get(ctx, nil)
		if err != nil {
			// Only a non-retryable error gets here; the event is lost, the
			// deadline itself still shows on the case.
			workflow.GetLogger(ctx).Error("deadline event not recorded", "action", action, "error", err)
		}
	}
}
