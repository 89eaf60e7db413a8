package civicflow

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// DayKind says how a calendar entry changes the usual week.
type DayKind string

// Calendar entries. Days without an entry follow the week: Monday to Friday
// are working days, Saturday and Sunday are not.
const (
	DayHoliday DayKind = "holiday" // a public holiday or a day off moved by 调休
	DayWorkday DayKind = "workday" // an adjusted working weekend day (调休上班)
)

// Valid reports whether k is a known kind.
func (k DayKind) Valid() bool { return k == DayHoliday || k == DayWorkday }

// CalendarDay is one exception to the usual week in the working-day
// calendar of mainland China (see docs/deadlines.md for the source).
type CalendarDay struct {
	Date string  `json:"date"` // YYYY-MM-DD, China time
	Kind DayKind `json:"kind"`
	Name string  `json:"name,omitempty"` // 春节, 国庆节 ...
}

// Calendar is a working-day calendar: the exceptions to the usual week, in
// date order. It is a plain value so that workflows and activities can pass
// it around; its methods are pure and deterministic.
type Calendar struct {
	Days []CalendarDay `json:"days"`
}

// NewCalendar checks the entries and returns them as a calendar in date
// order. A date may appear once.
func NewCalendar(days []CalendarDay) (Calendar, error) {
	out := make([]CalendarDay, len(days))
	copy(out, days)
	var bad []FieldError
	for i, d := range out {
		if _, err := time.Parse(time.DateOnly, d.Date); err != nil {
			bad = append(bad, FieldError{Field: fmt.Sprintf("days[%d].date", i), Reason: "must be a date YYYY-MM-DD"})
		}
		if !d.Kind.Valid() {
			bad = append(bad, FieldError{Field: fmt.Sprintf("days[%d].kind", i), Reason: "must be holiday or workday"})
		}
	}
	if len(bad) > 0 {
		return Calendar{}, Invalid(bad...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Date < out[j].Date })
	for i := 1; i < len(out); i++ {
		if out[i].Date == out[i-1].Date {
			return Calendar{}, Invalid(FieldError{Field: "days", Reason: "date " + out[i].Date + " appears twice"})
		}
	}
	return Calendar{Days: out}, nil
}

// entry finds the calendar's entry for a date (Days is sorted).
func (c Calendar) entry(date string) (CalendarDay, bool) {
	i := sort.Search(len(c.Days), func(i int) bool { return c.Days[i].Date >= date })
	if i < len(c.Days) && c.Days[i].Date == date {
		return c.Days[i], true
	}
	return CalendarDay{}, false
}

// IsWorkingDay reports whether the China-time day of t is a working day.
func (c Calendar) IsWorkingDay(t time.Time) bool {
	d := t.In(chinaZone)
	if e, ok := c.entry(d.Format(time.DateOnly)); ok {
		return e.Kind == DayWorkday
	}
	wd := d.Weekday()
	return wd != time.Saturday && wd != time.Sunday
}

// StartOfDay is 00:00 China time of t's day.
func StartOfDay(t time.Time) time.Time {
	d := t.In(chinaZone)
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, chinaZone)
}

// AddWorkingDays returns the end of the n-th working day after t's day
// (00:00 China time of the following day): the day t falls on does not
// count, as in "within 15 working days of acceptance". n = 0 gives the end
// of t's own day.
func (c Calendar) AddWorkingDays(t time.Time, n int) time.Time {
	d := StartOfDay(t)
	for n > 0 {
		d = d.AddDate(0, 0, 1)
		if c.IsWorkingDay(d) {
			n--
		}
	}
	return d.AddDate(0, 0, 1)
}

// WorkingDaysLeft counts the working days after t's day up to and
// including the last day before end (an end-of-day instant from
// AddWorkingDays): what remains of a working-day limit at t.
func (c Calendar) WorkingDaysLeft(t, end time.Time) int {
	last := StartOfDay(end.Add(-time.Nanosecond))
	n := 0
	for d := StartOfDay(t).AddDate(0, 0, 1); !d.After(last); d = d.AddDate(0, 0, 1) {
		if c.IsWorkingDay(d) {
			n++
		}
	}
	return n
}

// CalendarGap is a year that open deadlines run into but whose calendar
// has not been loaded (no holiday entry: the State Council's notice for it
// has not been entered). Working days in it are counted as the usual week,
// so due dates that cross it miss its holidays and 调休 days.
type CalendarGap struct {
	Year int `json:"year"`
	// OpenDeadlines counts the open stages whose due date is in the year
	// or later: their time runs through it.
	OpenDeadlines int64 `json:"open_deadlines"`
}

// DayUnit is the unit of a time limit.
type DayUnit string

// Units of a time limit.
const (
	WorkingDays  DayUnit = "working_days"  // counted on the working-day calendar
	CalendarDays DayUnit = "calendar_days" // counted on the clock (公示: 7 days)
)

// Valid reports whether u is a known unit.
func (u DayUnit) Valid() bool { return u == WorkingDays || u == CalendarDays }

// DefaultReminderShare is the share of a stage's time after which the
// responsible officials are reminded.
const DefaultReminderShare = 0.8

// DeadlineRefusalNotice is the deadline key of the written refusal
// (3 working days after the decision). It is not a stage: the case ends at
// the refusal, so no workflow timer runs for it; notices print it as due.
const DeadlineRefusalNotice = "refusal_notice"

// DeadlineRule is the time limit of one stage of one process, as set for a
// jurisdiction: the city's default or a district's override.
type DeadlineRule struct {
	CaseType      CaseType `json:"case_type"`
	Stage         string   `json:"stage"` // a Stage, or DeadlineRefusalNotice
	Jurisdiction  string   `json:"jurisdiction"`
	Days          int      `json:"days"`
	Unit          DayUnit  `json:"unit"`
	ReminderShare float64  `json:"reminder_share"` // 0 < share < 1; the reminder goes out after this share of the time
}

// Validate checks a rule's fields.
func (r DeadlineRule) Validate() error {
	var bad []FieldError
	if !r.CaseType.Valid() {
		bad = append(bad, FieldError{Field: "case_type", Reason: "must be centralised_care, community_rehab or education_grant"})
	}
	// The stages a rule may limit are the process's (process.go, Clocked).
	if p, ok := ProcessOf(r.CaseType); ok && r.Stage != DeadlineRefusalNotice && !slices.Contains(p.Clocked, Stage(r.Stage)) {
		bad = append(bad, FieldError{Field: "stage", Reason: fmt.Sprintf("must be refusal_notice or a stage of %s with a time limit: %s",
			r.CaseType, joinStages(p.Clocked))})
	}
	if r.Days < 1 || r.Days > 365 {
		bad = append(bad, FieldError{Field: "days", Reason: "must be between 1 and 365"})
	}
	if !r.Unit.Valid() {
		bad = append(bad, FieldError{Field: "unit", Reason: "must be working_days or calendar_days"})
	}
	if !(r.ReminderShare > 0 && r.ReminderShare < 1) {
		bad = append(bad, FieldError{Field: "reminder_share", Reason: "must be between 0 and 1, e.g. 0.8"})
	}
	if len(bad) > 0 {
		return Invalid(bad...)
	}
	return nil
}

// StageClock is the deadline of the stage a case is in: when it is due,
// when the officials are reminded, and, while the case waits for the
// applicant's supplements, how much time is left (the clock stands still).
// A clock without a rule (Rule.Days == 0) has no deadline.
type StageClock struct {
	Stage     Stage        `json:"stage,omitzero"`
	Rule      DeadlineRule `json:"rule,omitzero"`
	StartedAt time.Time    `json:"started_at,omitzero"`
	// StartSeq is the step that started the clock; reminders and
	// escalations of this clock are recorded under keys derived from it,
	// so each happens at most once.
	StartSeq int       `json:"start_seq,omitzero"`
	Due      time.Time `json:"due,omitzero"`       // zero while paused or without a rule
	RemindAt time.Time `json:"remind_at,omitzero"` // zero: no reminder (paused, none due, or the limit is too short)

	Paused      bool          `json:"paused,omitzero"`
	PausedAt    time.Time     `json:"paused_at,omitzero"`
	DaysLeft    int           `json:"days_left,omitzero"`    // working days left when paused
	Left        time.Duration `json:"left,omitzero"`         // calendar time left when paused
	RemindLeft  time.Duration `json:"remind_left,omitzero"`  // calendar units: time to the reminder when paused
	RemindDays  int           `json:"remind_days,omitzero"`  // working units: working days to the reminder when paused
	HasReminder bool          `json:"has_reminder,omitzero"` // a reminder is still to come when resumed
}

// Timed reports whether the clock is running with a deadline.
func (s StageClock) Timed() bool { return s.Rule.Days > 0 && !s.Paused && !s.Due.IsZero() }

// reminderDays is the number of working days after which the reminder
// goes out: the share of the limit, rounded down; none when that is zero.
func reminderDays(r DeadlineRule) int {
	return int(math.Floor(r.ReminderShare*float64(r.Days) + 1e-9))
}

// StartClock starts the clock of a stage entered at t under rule r (a zero
// rule: no deadline).
func (c Calendar) StartClock(stage Stage, r DeadlineRule, t time.Time) StageClock {
	s := StageClock{Stage: stage, Rule: r, StartedAt: t}
	if r.Days <= 0 {
		return s
	}
	switch r.Unit {
	case CalendarDays:
		total := time.Duration(r.Days) * 24 * time.Hour
		s.Due = t.Add(total)
		if share := time.Duration(float64(total) * r.ReminderShare); share > 0 {
			s.RemindAt = t.Add(share)
		}
	default:
		s.Due = c.AddWorkingDays(t, r.Days)
		if k := reminderDays(r); k > 0 && k < r.Days {
			s.RemindAt = c.AddWorkingDays(t, k)
		}
	}
	return s
}

// PauseClock stops a running clock at t, keeping what is left of the
// limit (and of the time to the reminder, if it has not gone out).
func (c Calendar) PauseClock(s StageClock, t time.Time) StageClock {
	if s.Paused || s.Due.IsZero() {
		return s
	}
	p := s
	p.Paused, p.PausedAt = true, t
	p.HasReminder = !s.RemindAt.IsZero() && s.RemindAt.After(t)
	switch s.Rule.Unit {
	case CalendarDays:
		p.Left = max(s.Due.Sub(t), 0)
		if p.HasReminder {
			p.RemindLeft = s.RemindAt.Sub(t)
		}
	default:
		p.DaysLeft = c.WorkingDaysLeft(t, s.Due)
		if p.HasReminder {
			p.RemindDays = c.WorkingDaysLeft(t, s.RemindAt)
		}
	}
	p.Due, p.RemindAt = time.Time{}, time.Time{}
	return p
}

// ResumeClock starts a paused clock again at t with the time it had left.
// Working-day limits continue after t's day, as when the stage started.
func (c Calendar) ResumeClock(p StageClock, t time.Time) StageClock {
	if !p.Paused {
		return p
	}
	s := p
	s.Paused, s.PausedAt = false, time.Time{}
	switch p.Rule.Unit {
	case CalendarDays:
		s.Due = t.Add(p.Left)
		if p.HasReminder {
			s.RemindAt = t.Add(p.RemindLeft)
		}
	default:
		s.Due = c.AddWorkingDays(t, p.DaysLeft)
		if p.HasReminder {
			s.RemindAt = c.AddWorkingDays(t, p.RemindDays)
		}
	}
	s.DaysLeft, s.Left, s.RemindDays, s.RemindLeft, s.HasReminder = 0, 0, 0, 0, false
	return s
}

func joinStages(ss []Stage) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return strings.Join(out, ", ")
}
