package postgres_test

import (
	"context"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"civicflow"
	"civicflow/postgres"
)

func TestCalendarMigrationMatchesOfficialDays(t *testing.T) {
	db := setup(t)
	ctx := context.Background()
	cal, err := db.CalendarBetween(ctx, time.Date(2025, 1, 1, 0, 0, 0, 0, civicflow.ChinaZone()),
		time.Date(2026, 12, 31, 0, 0, 0, 0, civicflow.ChinaZone()))
	require.NoError(t, err)
	want := civicflow.OfficialCalendarDays()
	sort.Slice(want, func(i, j int) bool { return want[i].Date < want[j].Date })
	require.Equal(t, want, cal.Days)

	// Administrators add a day; a 调休 working day must fall on a weekend.
	require.NoError(t, db.PutCalendarDay(ctx, civicflow.CalendarDay{Date: "2027-01-01", Kind: civicflow.DayHoliday, Name: "元旦"}, 0))
	requireCode(t, db.PutCalendarDay(ctx, civicflow.CalendarDay{Date: "2027-01-04", Kind: civicflow.DayWorkday}, 0), civicflow.EINVALID)
	year, err := db.CalendarYear(ctx, 2027)
	require.NoError(t, err)
	require.Len(t, year, 1)
	require.Equal(t, "admin", year[0].Source)
	require.NoError(t, db.DeleteCalendarDay(ctx, "2027-01-01"))
	requireCode(t, db.DeleteCalendarDay(ctx, "2027-01-01"), civicflow.ENOTFOUND)
}

func TestDeadlineRulesDistrictOverridesCity(t *testing.T) {
	db := setup(t)
	ctx := context.Background()
	resolve := func(district string) civicflow.DeadlineRule {
		r, err := db.ResolveDeadline(ctx, civicflow.CaseTypeCentralisedCare, "district_review", district)
		require.NoError(t, err)
		return r
	}
	require.Equal(t, 20, resolve("610113").Days)
	require.Equal(t, civicflow.CityCode, resolve("610113").Jurisdiction)
	override := civicflow.DeadlineRule{CaseType: civicflow.CaseTypeCentralisedCare, Stage: "district_review",
		Jurisdiction: "610113", Days: 10, Unit: civicflow.WorkingDays, ReminderShare: 0.75}
	require.NoError(t, db.PutDeadlineRule(ctx, override, 0))
	require.Equal(t, override, resolve("610113"))
	require.Equal(t, 20, resolve("610102").Days, "another district keeps the city's default")
	rules, err := db.DeadlineRules(ctx, "610113")
	require.NoError(t, err)
	// Five city rules of centralised care, six of community rehab (migration
	// 007), four of the education grant (008), three each of the transfer
	// and the termination (009), the override.
	require.Len(t, rules, 22)

	requireCode(t, db.DeleteDeadlineRule(ctx, civicflow.CaseTypeCentralisedCare, "district_review", civicflow.CityCode), civicflow.ECONFLICT)
	require.NoError(t, db.DeleteDeadlineRule(ctx, civicflow.CaseTypeCentralisedCare, "district_review", "610113"))
	require.Equal(t, 20, resolve("610113").Days)
	none, err := db.ResolveDeadline(ctx, civicflow.CaseTypeCentralisedCare, "placement", "610113")
	require.NoError(t, err)
	require.Zero(t, none.Days, "no rule: no limit")

	bad := override
	bad.Stage = string(civicflow.StageAwaitingSupplements) // the clock stands still there
	requireCode(t, db.PutDeadlineRule(ctx, bad, 0), civicflow.EINVALID)
	bad = override
	bad.ReminderShare = 1.5
	requireCode(t, db.PutDeadlineRule(ctx, bad, 0), civicflow.EINVALID)
}

// deadlineStep records a transition of a case to stage with a due date.
func deadlineStep(t *testing.T, db *postgres.DB, caseID int64, seq int, from, to civicflow.Stage, at time.Time, due *time.Time) {
	t.Helper()
	require.NoError(t, db.RecordTransition(context.Background(), civicflow.Transition{CaseID: caseID, Key: "step-" + strconv.Itoa(seq),
		Seq: seq, Action: "test", From: from, To: to, Actor: civicflow.SystemActor, At: at, StageDueAt: due}))
}

func TestOverdueListCountsAndStageStatistics(t *testing.T) {
	db := setup(t)
	ctx := context.Background()
	base := now().Add(-30 * 24 * time.Hour)
	at := func(days float64) *time.Time { t := base.Add(time.Duration(days * 24 * float64(time.Hour))); return &t }
	// Three cases overdue in Yanta (two in investigation, one in review),
	// one in Xincheng, one not yet due, one without a limit.
	type spec struct {
		township string
		stage    civicflow.Stage
		due      *time.Time
	}
	specs := []spec{
		{"610113001", civicflow.StageInvestigation, at(20)},
		{"610113002", civicflow.StageInvestigation, at(10)},
		{"610113001", civicflow.StageDistrictReview, at(25)},
		{"610102001", civicflow.StageInvestigation, at(15)},
		{"610113001", civicflow.StageInvestigation, at(60)},
		{"610113001", civicflow.StagePlacement, nil},
	}
	ids := make([]int64, len(specs))
	for i, s := range specs {
		c := createCase(t, db, s.township)
		ids[i] = c.CaseID
		deadlineStep(t, db, c.CaseID, 1, civicflow.StageSubmitted, civicflow.StageIntake, *at(0), at(5))
		deadlineStep(t, db, c.CaseID, 2, civicflow.StageIntake, s.stage, *at(1), s.due)
	}
	list, err := db.Overdue(ctx, postgres.OverdueFilter{})
	require.NoError(t, err)
	var got []int64
	for _, o := range list {
		got = append(got, o.ID)
		require.Greater(t, o.DaysLate, 0.0)
	}
	require.Equal(t, []int64{ids[1], ids[3], ids[0], ids[2]}, got, "most overdue first")
	requireSameTime(t, *at(10), list[0].StageDueAt)
	require.InDelta(t, time.Since(*at(10)).Hours()/24, list[0].DaysLate, 0.01)

	yanta, err := db.Overdue(ctx, postgres.OverdueFilter{DistrictCode: "610113", Stage: civicflow.StageInvestigation})
	require.NoError(t, err)
	require.Len(t, yanta, 2)
	page, err := db.Overdue(ctx, postgres.OverdueFilter{Limit: 2})
	require.NoError(t, err)
	next, err := db.Overdue(ctx, postgres.OverdueFilter{Limit: 2, AfterDue: &page[1].StageDueAt, AfterID: page[1].ID})
	require.NoError(t, err)
	require.Equal(t, []int64{ids[0], ids[2]}, []int64{next[0].ID, next[1].ID})
	town, err := db.Overdue(ctx, postgres.OverdueFilter{TownshipCode: "610113002"})
	require.NoError(t, err)
	require.Len(t, town, 1)

	counts, err := db.OverdueCounts(ctx, postgres.OverdueFilter{})
	require.NoError(t, err)
	require.Equal(t, []postgres.OverdueCount{
		{DistrictCode: "610102", Stage: civicflow.StageInvestigation, Count: 1},
		{DistrictCode: "610113", Stage: civicflow.StageDistrictReview, Count: 1},
		{DistrictCode: "610113", Stage: civicflow.StageInvestigation, Count: 2},
	}, counts)

	// Every case left intake one day after entering it (due after 5: on time).
	stats, err := db.StageDurations(ctx, base.Add(-time.Hour), now().Add(time.Hour), "")
	require.NoError(t, err)
	require.Len(t, stats, 1)
	require.Equal(t, civicflow.StageIntake, stats[0].Stage)
	require.Equal(t, int64(len(specs)), stats[0].Visits)
	require.InDelta(t, 1.0, stats[0].MedianDays, 0.001)
	require.InDelta(t, 1.0, stats[0].P90Days, 0.001)
	require.Zero(t, stats[0].Late)
	// Leaving investigation late shows in the next period's statistics.
	deadlineStep(t, db, ids[1], 3, civicflow.StageInvestigation, civicflow.StagePublicNotice, *at(13), nil)
	stats, err = db.StageDurations(ctx, *at(12), now().Add(time.Hour), "610113")
	require.NoError(t, err)
	require.Equal(t, []postgres.StageStats{{Stage: civicflow.StageInvestigation, Visits: 1, MedianDays: 12, P90Days: 12, Late: 1}}, roundStats(stats))
	require.Nil(t, getCase(t, db, ids[1]).StageDueAt, "a stage without a limit clears the due date")
}

func roundStats(s []postgres.StageStats) []postgres.StageStats {
	for i := range s {
		s[i].MedianDays = float64(int(s[i].MedianDays*1000+0.5)) / 1000
		s[i].P90Days = float64(int(s[i].P90Days*1000+0.5)) / 1000
	}
	return s
}

func TestSupervisorReassignNoteAndReminder(t *testing.T) {
	db := setup(t)
	ctx := context.Background()
	sup := civicflow.Actor{UserID: 1, Username: "sup", Role: civicflow.RoleSupervisor, Jurisdiction: "610113"}
	mine, err := db.EnsureUser(ctx, postgres.NewUser{Username: "ts.a", DisplayName: "甲", Password: "a-long-password",
		Role: civicflow.RoleTownshipOfficial, Jurisdiction: "610113001"})
	require.NoError(t, err)
	other, err := db.EnsureUser(ctx, postgres.NewUser{Username: "ts.b", DisplayName: "乙", Password: "a-long-password",
		Role: civicflow.RoleTownshipOfficial, Jurisdiction: "610113002"})
	require.NoError(t, err)
	require.NoError(t, db.SetUserEmail(ctx, mine, "jia@example.org", "zh"))
	c := createCase(t, db, "610113001")
	due := now().Add(-time.Hour)
	deadlineStep(t, db, c.CaseID, 1, civicflow.StageSubmitted, civicflow.StageInvestigation, now().Add(-48*time.Hour), &due)

	_, err = db.Reassign(ctx, c.CaseID, other, sup, "")
	requireCode(t, err, civicflow.EINVALID) // another township
	u, err := db.Reassign(ctx, c.CaseID, mine, sup, "王芳 is on leave")
	require.NoError(t, err)
	require.Equal(t, "ts.a", u.Username)
	require.Equal(t, mine, getCase(t, db, c.CaseID).AssignedUserID)
	require.NoError(t, db.AddSupervisoryNote(ctx, c.CaseID, sup, "please visit this week"))
	require.NoError(t, db.RemindNow(ctx, c.CaseID, sup, ""))
	events, err := db.Events(ctx, c.CaseID)
	require.NoError(t, err)
	var actions []string
	for _, e := range events {
		actions = append(actions, string(e.Action))
		require.Equal(t, civicflow.StageInvestigation, e.ToStage)
	}
	require.Equal(t, []string{"test", string(civicflow.StepReassigned), string(civicflow.StepSupervisoryNote), string(civicflow.StepSupervisorReminder)}, actions)
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM notifications WHERE case_id = $1 AND user_id = $2 AND template = 'case_waiting'`,
		c.CaseID, mine))

	// A deadline event is recorded once, however often it is retried.
	ev := civicflow.DeadlineEvent{CaseID: c.CaseID, Key: "deadline_reminder-investigation-1", Action: civicflow.StepDeadlineReminder,
		Stage: civicflow.StageInvestigation, Due: due, At: now()}
	require.NoError(t, db.RecordDeadlineEvent(ctx, ev))
	require.NoError(t, db.RecordDeadlineEvent(ctx, ev))
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM case_events WHERE case_id = $1 AND action = 'deadline_reminder'`, c.CaseID))
	require.Equal(t, 2, count(t, db, `SELECT count(*) FROM notifications WHERE case_id = $1 AND user_id = $2`, c.CaseID, mine))
}

// TestCalendarGaps: years that open deadlines run into without a loaded
// calendar are found per city and district, from the current year on,
// and a year drops out once its first holiday is entered.
func TestCalendarGaps(t *testing.T) {
	db := setup(t)
	ctx := context.Background()
	cst := civicflow.ChinaZone()
	day := func(y int, m time.Month, d int) *time.Time { t := time.Date(y, m, d, 0, 0, 0, 0, cst); return &t }
	start := *day(2026, 11, 20)
	for _, s := range []struct {
		township string
		due      *time.Time
	}{
		{"610113001", day(2027, 1, 15)},  // Yanta: into 2027
		{"610102001", day(2028, 3, 1)},   // Xincheng: through 2027 into 2028
		{"610113002", day(2026, 12, 20)}, // within 2026, which is loaded
		{"610113001", nil},               // no limit
	} {
		c := createCase(t, db, s.township)
		deadlineStep(t, db, c.CaseID, 1, civicflow.StageSubmitted, civicflow.StageIntake, start, s.due)
	}
	gaps := func(now time.Time, district string) []civicflow.CalendarGap {
		g, err := db.CalendarGaps(ctx, now, district)
		require.NoError(t, err)
		return g
	}
	now := *day(2026, 12, 3)
	require.Equal(t, []civicflow.CalendarGap{{Year: 2027, OpenDeadlines: 2}, {Year: 2028, OpenDeadlines: 1}}, gaps(now, ""))
	require.Equal(t, []civicflow.CalendarGap{{Year: 2027, OpenDeadlines: 1}}, gaps(now, "610113"))
	require.Empty(t, gaps(now, "610116"), "no open deadlines there")

	require.NoError(t, db.PutCalendarDay(ctx, civicflow.CalendarDay{Date: "2027-01-01", Kind: civicflow.DayHoliday, Name: "元旦"}, 0))
	require.Equal(t, []civicflow.CalendarGap{{Year: 2028, OpenDeadlines: 1}}, gaps(now, ""))
	require.Empty(t, gaps(now, "610113"))
	require.Empty(t, gaps(*day(2029, 1, 5), ""), "years before the current one are history")
	// A worked weekend day alone does not load a year.
	require.NoError(t, db.PutCalendarDay(ctx, civicflow.CalendarDay{Date: "2028-01-08", Kind: civicflow.DayWorkday, Name: "调休"}, 0))
	require.Equal(t, []civicflow.CalendarGap{{Year: 2028, OpenDeadlines: 1}}, gaps(now, ""))
}
