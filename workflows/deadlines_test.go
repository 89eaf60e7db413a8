package workflows

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"civicflow"
	"civicflow/activities"
)

// deadlineStandIn answers StageClock from a rule table and the official
// 2025-2026 calendar (as the activity does from PostgreSQL) and keeps the
// deadline events the workflow records.
type deadlineStandIn struct {
	mu     sync.Mutex
	rules  map[civicflow.Stage]civicflow.DeadlineRule
	cal    civicflow.Calendar
	clocks []civicflow.StageClock
	events []activities.DeadlineEventInput
}

func cityRule(stage civicflow.Stage, days int, unit civicflow.DayUnit) civicflow.DeadlineRule {
	return civicflow.DeadlineRule{CaseType: civicflow.CaseTypeCentralisedCare, Stage: string(stage), Jurisdiction: civicflow.CityCode,
		Days: days, Unit: unit, ReminderShare: civicflow.DefaultReminderShare}
}

func (d *deadlineStandIn) mock(env *testsuite.TestWorkflowEnvironment) {
	d.rules = map[civicflow.Stage]civicflow.DeadlineRule{
		civicflow.StageIntake:         cityRule(civicflow.StageIntake, 5, civicflow.WorkingDays),
		civicflow.StageInvestigation:  cityRule(civicflow.StageInvestigation, 15, civicflow.WorkingDays),
		civicflow.StagePublicNotice:   cityRule(civicflow.StagePublicNotice, 7, civicflow.CalendarDays),
		civicflow.StageDistrictReview: cityRule(civicflow.StageDistrictReview, 20, civicflow.WorkingDays),
	}
	cal, err := civicflow.NewCalendar(civicflow.OfficialCalendarDays())
	if err != nil {
		panic(err)
	}
	d.cal = cal
	env.OnActivity(a.StageClock, mock.Anything, mock.Anything).Return(d.compute)
	env.OnActivity(a.RecordDeadlineEvent, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.DeadlineEventInput) error {
			d.mu.Lock()
			defer d.mu.Unlock()
			d.events = append(d.events, in)
			return nil
		})
}

// compute answers a clock request as the StageClock activity does, from
// the rule table and the official calendar.
func (d *deadlineStandIn) compute(_ context.Context, in activities.StageClockInput) (civicflow.StageClock, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var c civicflow.StageClock
	switch in.Op {
	case activities.ClockStart:
		c = d.cal.StartClock(in.Stage, d.rules[in.Stage], in.At)
		c.StartSeq = in.Seq
	case activities.ClockPause:
		c = d.cal.PauseClock(*in.Clock, in.At)
	case activities.ClockResume:
		c = d.cal.ResumeClock(*in.Clock, in.At)
	default:
		return c, fmt.Errorf("unknown op %q", in.Op)
	}
	d.clocks = append(d.clocks, c)
	return c, nil
}

func (d *deadlineStandIn) setRule(r civicflow.DeadlineRule) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.rules[civicflow.Stage(r.Stage)] = r
}

// deadlineEvent is what the tests compare: which event, for which stage, when.
type deadlineEvent struct {
	Action civicflow.Action
	Stage  civicflow.Stage
	At     time.Time
}

func (d *deadlineStandIn) recorded() []deadlineEvent {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []deadlineEvent
	for _, e := range d.events {
		out = append(out, deadlineEvent{e.Action, e.Clock.Stage, e.At.In(civicflow.ChinaZone())})
	}
	return out
}

func cst(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, civicflow.ChinaZone())
}

func (h *harness) transition(action string) civicflow.Transition {
	h.t.Helper()
	for _, t := range h.rec.transitions {
		if t.Action == civicflow.Action(action) {
			return t
		}
	}
	h.t.Fatalf("no transition %s in %v", action, h.rec.actions())
	return civicflow.Transition{}
}

// An investigation accepted on Tuesday 10 February 2026, just before the
// Spring Festival (15-23 February off; Saturdays 14 and 28 February worked):
// 15 working days are 11-14 Feb, 24-28 Feb and 2-6, 9 March, so the stage
// is due at the end of Monday 9 March. The reminder comes after 12 working
// days (80 %), at the end of Wednesday 4 March. Each is recorded once, though
// the case then sits in investigation for weeks.
func TestDeadlineAcrossSpringFestival(t *testing.T) {
	h := setup(t, time.Time{})
	h.env.SetStartTime(cst(2026, 2, 10, 10, 0))
	h.act(time.Minute, civicflow.ActionAccept, ActionRequest{Actor: township}, "")
	h.act(50*24*time.Hour, civicflow.ActionWithdraw, ActionRequest{Actor: applicant}, "")
	h.start()
	st := h.result()
	require.Equal(t, civicflow.StageWithdrawn, st.Stage)
	require.Nil(t, st.StageDueAt, "an ended case has no due date")

	due := cst(2026, 3, 10, 0, 0)
	accept := h.transition("accept")
	require.NotNil(t, accept.StageDueAt)
	require.True(t, due.Equal(*accept.StageDueAt), "due %v, want %v", accept.StageDueAt, due)
	require.Nil(t, h.transition("withdraw").StageDueAt)
	require.Equal(t, []deadlineEvent{
		{civicflow.StepDeadlineReminder, civicflow.StageInvestigation, cst(2026, 3, 5, 0, 0)},
		{civicflow.StepDeadlineBreached, civicflow.StageInvestigation, due},
	}, h.rec.deadlines.recorded())
}

// National Day 2025: 1-8 October off, Sunday 28 September and Saturday
// 11 October worked. A district review of 10 working days starting on
// Friday 26 September 2025 counts 28, 29, 30 September, 9, 10, 11, 13, 14,
// 15 and 16 October: due at the end of Thursday 16 October.
func TestDeadlineAcrossNationalDayMakeUpWeekends(t *testing.T) {
	h := setup(t, time.Time{})
	h.rec.deadlines.setRule(cityRule(civicflow.StageDistrictReview, 10, civicflow.WorkingDays))
	h.env.SetStartTime(cst(2025, 9, 18, 9, 0))
	h.act(time.Minute, civicflow.ActionAccept, ActionRequest{Actor: township}, "")
	h.act(time.Hour, civicflow.ActionRecordInvestigation, ActionRequest{Actor: township, HomeVisit: visit(civicflow.OpinionEligible)}, "")
	// The notice runs 7 days from about 10:00 on 18 September: review starts 25 September.
	h.act(30*24*time.Hour, civicflow.ActionReject, ActionRequest{Actor: reviewer, Reasons: "has an able supporter"}, "")
	h.start()
	st := h.result()
	require.Equal(t, civicflow.StageRejected, st.Stage)

	ended := h.transition("public_notice_ended")
	require.Equal(t, civicflow.StageDistrictReview, ended.To)
	enteredReview := ended.At.In(civicflow.ChinaZone())
	require.Equal(t, 25, enteredReview.Day(), "review starts on 25 September (%v)", enteredReview)
	// From Thursday 25 September: 26, 28, 29, 30 Sep, 9, 10, 11, 13, 14, 15 Oct.
	due := cst(2025, 10, 16, 0, 0)
	require.NotNil(t, ended.StageDueAt)
	require.True(t, due.Equal(*ended.StageDueAt), "due %v, want %v", ended.StageDueAt.In(civicflow.ChinaZone()), due)
	var review []deadlineEvent
	for _, e := range h.rec.deadlines.recorded() {
		if e.Stage == civicflow.StageDistrictReview {
			review = append(review, e)
		}
	}
	// 8 working days (80 %) end with Monday 13 October.
	require.Equal(t, []deadlineEvent{
		{civicflow.StepDeadlineReminder, civicflow.StageDistrictReview, cst(2025, 10, 14, 0, 0)},
		{civicflow.StepDeadlineBreached, civicflow.StageDistrictReview, due},
	}, review)
}

// Intake of 5 working days from Monday 2 March 2026 (due end of 9 March).
// Supplements requested on Tuesday 3 March stop the clock with 4 working
// days left (4, 5, 6, 9 March) and 3 to the reminder; they arrive on Friday
// 20 March, so intake is due at the end of Thursday 26 March and the
// reminder comes at the end of Wednesday 25 March. Nothing fires while the
// applicant is awaited, although the original dates pass.
func TestDeadlineClockStopsForSupplements(t *testing.T) {
	h := setup(t, time.Time{})
	h.env.SetStartTime(cst(2026, 3, 2, 9, 0))
	h.act(24*time.Hour, civicflow.ActionRequestSupplements, ActionRequest{Actor: township, Items: []string{"户口簿复印件"}}, "")
	h.act(18*24*time.Hour, civicflow.ActionProvideSupplements, ActionRequest{Actor: applicant, Note: "带来了"}, "")
	h.act(40*24*time.Hour, civicflow.ActionReject, ActionRequest{Actor: township, Reasons: "not registered here"}, "")
	h.start()
	st := h.result()
	require.Equal(t, civicflow.StageRejected, st.Stage)

	submitted := h.transition("submitted")
	require.NotNil(t, submitted.StageDueAt)
	require.True(t, cst(2026, 3, 10, 0, 0).Equal(*submitted.StageDueAt))
	require.Nil(t, h.transition("request_supplements").StageDueAt, "the clock stands still while the applicant is awaited")
	resumed := h.transition("provide_supplements")
	require.NotNil(t, resumed.StageDueAt)
	due := cst(2026, 3, 27, 0, 0)
	require.True(t, due.Equal(*resumed.StageDueAt), "due %v, want %v", resumed.StageDueAt.In(civicflow.ChinaZone()), due)
	require.Equal(t, []deadlineEvent{
		{civicflow.StepDeadlineReminder, civicflow.StageIntake, cst(2026, 3, 26, 0, 0)},
		{civicflow.StepDeadlineBreached, civicflow.StageIntake, due},
	}, h.rec.deadlines.recorded())
}

// A limit changed while a stage runs applies to the next stage that starts,
// not to the running one.
func TestDeadlineRuleChangeAppliesToLaterStages(t *testing.T) {
	h := setup(t, time.Time{})
	h.env.SetStartTime(cst(2026, 3, 2, 9, 0))
	h.act(time.Minute, civicflow.ActionAccept, ActionRequest{Actor: township}, "")
	h.env.RegisterDelayedCallback(func() {
		h.rec.deadlines.setRule(cityRule(civicflow.StageInvestigation, 3, civicflow.WorkingDays))
	}, 30*time.Minute)
	h.act(time.Hour, civicflow.ActionRecordInvestigation, ActionRequest{Actor: township, HomeVisit: visit(civicflow.OpinionEligible)}, "")
	h.act(3*24*time.Hour, civicflow.ActionLodgeObjection, ActionRequest{Actor: township, Reasons: "a son supports him"}, "")
	h.act(20*24*time.Hour, civicflow.ActionWithdraw, ActionRequest{Actor: applicant}, "")
	h.start()
	require.Equal(t, civicflow.StageWithdrawn, h.result().Stage)

	first, second := h.transition("accept"), h.transition("lodge_objection")
	// 15 working days from Monday 2 March: 3-6, 9-13, 16-20, 23 March.
	require.True(t, cst(2026, 3, 24, 0, 0).Equal(*first.StageDueAt), "first round due %v", first.StageDueAt)
	// 3 working days from Thursday 5 March: 6, 9, 10 March.
	require.True(t, cst(2026, 3, 11, 0, 0).Equal(*second.StageDueAt), "second round due %v", second.StageDueAt)
	var breaches int
	for _, e := range h.rec.deadlines.recorded() {
		if e.Action == civicflow.StepDeadlineBreached {
			breaches++
			require.True(t, cst(2026, 3, 11, 0, 0).Equal(e.At), "breach at %v", e.At)
		}
	}
	require.Equal(t, 1, breaches, "only the second round overran")
}
