package civicflow

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func officialCalendar(t *testing.T) Calendar {
	t.Helper()
	c, err := NewCalendar(OfficialCalendarDays())
	require.NoError(t, err)
	return c
}

func day(s string) time.Time {
	d, err := time.ParseInLocation(time.DateOnly, s, ChinaZone())
	if err != nil {
		panic(err)
	}
	return d.Add(10 * time.Hour)
}

func TestCalendarWorkingDays(t *testing.T) {
	c := officialCalendar(t)
	for date, want := range map[string]bool{
		"2025-01-01": false, // 元旦, a Wednesday
		"2025-01-26": true,  // Sunday worked for the Spring Festival
		"2025-01-28": false, // 除夕
		"2025-02-08": true,  // Saturday worked
		"2025-09-28": true,  // Sunday worked for National Day
		"2025-10-08": false, // Wednesday, still National Day
		"2025-10-09": true,  // an ordinary Thursday
		"2025-10-11": true,  // Saturday worked
		"2025-10-12": false, // an ordinary Sunday
		"2026-01-04": true,  // Sunday worked after 元旦
		"2026-02-23": false, // Monday, last day of the Spring Festival
		"2026-05-09": true,  // Saturday worked after Labour Day
		"2026-10-08": true,  // Thursday after National Day 2026 (1-7 October)
		"2026-10-10": true,  // Saturday worked
	} {
		require.Equal(t, want, c.IsWorkingDay(day(date)), date)
	}
	// Without entries, the week decides.
	require.True(t, Calendar{}.IsWorkingDay(day("2025-01-01")))
	require.False(t, Calendar{}.IsWorkingDay(day("2025-01-26")))
}

func TestAddWorkingDays(t *testing.T) {
	c := officialCalendar(t)
	end := func(s string) time.Time { return day(s).Add(-10*time.Hour).AddDate(0, 0, 1) }
	// Friday 26 September 2025 + 3: Sunday 28 (worked), Monday 29, Tuesday 30.
	require.Equal(t, end("2025-09-30"), c.AddWorkingDays(day("2025-09-26"), 3))
	// + 4 jumps the holiday (1-8 October) to Thursday 9 October.
	require.Equal(t, end("2025-10-09"), c.AddWorkingDays(day("2025-09-26"), 4))
	// Late on a day is still that day: 23:30 China time (15:30 UTC).
	late := time.Date(2026, 2, 13, 15, 30, 0, 0, time.UTC)
	require.Equal(t, end("2026-02-14"), c.AddWorkingDays(late, 1), "Saturday 14 February 2026 is worked")
	require.Equal(t, end("2026-02-24"), c.AddWorkingDays(late, 2))
	require.Equal(t, end("2026-02-13"), c.AddWorkingDays(late, 0))
	require.Equal(t, 2, c.WorkingDaysLeft(late, end("2026-02-24")))
	require.Equal(t, 0, c.WorkingDaysLeft(day("2026-02-24"), end("2026-02-24")))
}

func TestClockPauseAndResume(t *testing.T) {
	c := officialCalendar(t)
	r := DeadlineRule{CaseType: CaseTypeCentralisedCare, Stage: "intake", Jurisdiction: CityCode, Days: 10,
		Unit: WorkingDays, ReminderShare: 0.8}
	// Monday 22 September 2025: 10 working days are 23-26 Sep, Sunday 28
	// (worked), 29, 30 Sep, then 9, 10 and Saturday 11 Oct (worked).
	s := c.StartClock(StageIntake, r, day("2025-09-22"))
	require.Equal(t, day("2025-10-12").Add(-10*time.Hour), s.Due)
	require.True(t, s.Timed())
	// 8 working days: 23, 24, 25, 26, 28, 29, 30 Sep, 9 Oct.
	require.Equal(t, day("2025-10-10").Add(-10*time.Hour), s.RemindAt)

	p := c.PauseClock(s, day("2025-09-26"))
	require.False(t, p.Timed())
	require.Equal(t, 6, p.DaysLeft)   // 28, 29, 30 Sep, 9, 10, 11 Oct
	require.Equal(t, 4, p.RemindDays) // 28, 29, 30 Sep, 9 Oct
	require.True(t, p.HasReminder)

	// Resumed on Thursday 16 October 2025: 17, 20, 21, 22, 23, 24.
	q := c.ResumeClock(p, day("2025-10-16"))
	require.Equal(t, day("2025-10-25").Add(-10*time.Hour), q.Due)
	require.Equal(t, day("2025-10-23").Add(-10*time.Hour), q.RemindAt)
	require.Equal(t, s.StartedAt, q.StartedAt)

	// Calendar days keep the exact time left.
	n := DeadlineRule{CaseType: CaseTypeCentralisedCare, Stage: "public_notice", Jurisdiction: CityCode, Days: 7,
		Unit: CalendarDays, ReminderShare: 0.5}
	ns := c.StartClock(StagePublicNotice, n, day("2026-02-10"))
	require.Equal(t, day("2026-02-17"), ns.Due)
	require.Equal(t, day("2026-02-10").Add(84*time.Hour), ns.RemindAt)
	np := c.PauseClock(ns, day("2026-02-12"))
	require.Equal(t, 5*24*time.Hour, np.Left)
	require.Equal(t, day("2026-03-06"), c.ResumeClock(np, day("2026-03-01")).Due)

	// No rule: no deadline.
	require.False(t, c.StartClock(StagePlacement, DeadlineRule{}, day("2026-02-10")).Timed())
}

func TestCalendarAndRuleValidation(t *testing.T) {
	_, err := NewCalendar([]CalendarDay{{Date: "2027-02-30", Kind: DayHoliday}, {Date: "2027-01-01", Kind: "party"}})
	require.Equal(t, EINVALID, ErrorCode(err))
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Len(t, e.Fields, 2)
	_, err = NewCalendar([]CalendarDay{{Date: "2027-01-01", Kind: DayHoliday}, {Date: "2027-01-01", Kind: DayWorkday}})
	require.Equal(t, EINVALID, ErrorCode(err))

	ok := DeadlineRule{CaseType: CaseTypeCentralisedCare, Stage: "district_review", Jurisdiction: "610113", Days: 10,
		Unit: WorkingDays, ReminderShare: 0.8}
	require.NoError(t, ok.Validate())
	bad := ok
	bad.Stage, bad.Days, bad.Unit, bad.ReminderShare = "completed", 0, "weeks", 1
	err = bad.Validate()
	require.Equal(t, EINVALID, ErrorCode(err))
	require.ErrorAs(t, err, &e)
	require.Len(t, e.Fields, 4)
	ref := ok
	ref.Stage = DeadlineRefusalNotice
	require.NoError(t, ref.Validate())
}
