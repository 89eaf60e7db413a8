package activities

import (
	"context"
	"fmt"
	"time"

	"civicflow"
)

// Clock operations of StageClock.
const (
	ClockStart  = "start"  // a stage starts: read its rule and the calendar
	ClockPause  = "pause"  // the case waits for the applicant: stop the clock
	ClockResume = "resume" // the supplements arrived: run on with the time left
)

// StageClockInput is the input of StageClock. Fields may be added, never
// removed or renamed.
type StageClockInput struct {
	Op           string                `json:",omitzero"`
	CaseID       int64                 `json:",omitzero"`
	CaseType     civicflow.CaseType    `json:",omitzero"`
	DistrictCode string                `json:",omitzero"`
	Stage        civicflow.Stage       `json:",omitzero"`
	At           time.Time             `json:",omitzero"` // workflow time of the step
	Seq          int                   `json:",omitzero"` // the step starting the clock
	Clock        *civicflow.StageClock `json:",omitzero"`
	// NoticeEnds is set when the stage is the public notice: the end the
	// workflow's own period gives. NoticeFromRule lets the jurisdiction's
	// rule decide it instead (FinishClock).
	NoticeEnds     *time.Time `json:",omitzero"`
	NoticeFromRule bool       `json:",omitzero"`
}

// FinishClock applies what the clock of a public notice needs: the
// notice's end is the rule's due date when the rule decides it (and has
// one), otherwise the workflow's own period; the clock is due at that end
// and has no reminder (nobody has to act). It answers the end, or nil for
// any other stage. Pure, so the workflow tests use it too.
func FinishClock(in StageClockInput, c civicflow.StageClock) (civicflow.StageClock, *time.Time) {
	if in.NoticeEnds == nil {
		return c, nil
	}
	ends := *in.NoticeEnds
	if in.NoticeFromRule && c.Timed() {
		ends = c.Due
	}
	c.Due, c.RemindAt = ends, time.Time{}
	return c, &ends
}

// calendarSpan is how far ahead the calendar is read for one clock: more
// than any limit (365 days) can reach across holidays.
const calendarSpan = 2 * 366 * 24 * time.Hour

// StageClock reads the stage's time limit for the case's district (once,
// when the stage starts: a later change applies to stages that start after
// it) and the working-day calendar, and computes the clock with the pure
// functions of the civicflow package. The result is recorded in the
// workflow's history, so the workflow stays deterministic.
func (a *Activities) StageClock(ctx context.Context, in StageClockInput) (civicflow.StageClock, error) {
	cal, err := a.Store.CalendarBetween(ctx, in.At.Add(-24*time.Hour), in.At.Add(calendarSpan))
	if err != nil {
		return civicflow.StageClock{}, retryable(err)
	}
	switch in.Op {
	case ClockStart:
		rule, err := a.Store.ResolveDeadline(ctx, in.CaseType, string(in.Stage), in.DistrictCode)
		if err != nil {
			return civicflow.StageClock{}, retryable(err)
		}
		c := cal.StartClock(in.Stage, rule, in.At)
		c.StartSeq = in.Seq
		return c, nil
	case ClockPause, ClockResume:
		if in.Clock == nil {
			return civicflow.StageClock{}, retryable(civicflow.Errorf(civicflow.EINVALID, "%s needs a clock", in.Op))
		}
		if in.Op == ClockPause {
			return cal.PauseClock(*in.Clock, in.At), nil
		}
		return cal.ResumeClock(*in.Clock, in.At), nil
	}
	return civicflow.StageClock{}, retryable(civicflow.Errorf(civicflow.EINVALID, "unknown clock operation %q", in.Op))
}

// DeadlineEventInput is the input of RecordDeadlineEvent.
type DeadlineEventInput struct {
	CaseID int64
	Action civicflow.Action // civicflow.StepDeadlineReminder or StepDeadlineBreached
	Clock  civicflow.StageClock
	At     time.Time
}

// DeadlineEventKey is the timeline key of a clock's reminder or breach:
// one of each per clock, whatever the retries.
func DeadlineEventKey(action civicflow.Action, c civicflow.StageClock) string {
	return fmt.Sprintf("%s-%s-%d", action, c.Stage, c.StartSeq)
}

// RecordDeadlineEvent records a reminder or a breach on the timeline and
// enqueues its notifications (idempotent).
func (a *Activities) RecordDeadlineEvent(ctx context.Context, in DeadlineEventInput) error {
	return retryable(a.Store.RecordDeadlineEvent(ctx, civicflow.DeadlineEvent{
		CaseID: in.CaseID, Key: DeadlineEventKey(in.Action, in.Clock), Action: in.Action, Stage: in.Clock.Stage,
		Due: in.Clock.Due, At: in.At,
		Details: map[string]any{"limit": in.Clock.Rule.Days, "unit": in.Clock.Rule.Unit,
			"jurisdiction": in.Clock.Rule.Jurisdiction, "started_at": in.Clock.StartedAt},
	}))
}
