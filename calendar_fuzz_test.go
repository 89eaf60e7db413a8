package civicflow

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// FuzzWorkingDays checks the working-day arithmetic on the official
// calendar for arbitrary instants and limits: the deadline is the end of a
// working day (00:00 China time of the next day), later than the start,
// later for a longer limit, and counting the working days left from the
// start gives the limit back.
func FuzzWorkingDays(f *testing.F) {
	for _, seed := range []struct {
		unix int64
		n    uint16
	}{
		{day("2026-01-15").Unix(), 15},         // an ordinary Thursday
		{day("2026-02-13").Unix(), 10},         // before 春节, across the holiday and 调休 Saturdays
		{day("2025-09-30").Unix(), 7},          // before 国庆节
		{day("2026-05-01").Unix(), 0},          // on a holiday, n = 0
		{day("2025-12-31").Unix() + 50000, 20}, // late in the evening, across the new year
		{0, 1}, {-1, 365}, {4102444800, 400},   // 1970, before 1970, 2100
	} {
		f.Add(seed.unix, seed.n)
	}
	c, err := NewCalendar(OfficialCalendarDays())
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, unix int64, n uint16) {
		// Keep to the years a case can live in; the loops are per day.
		start := time.Unix(unix%(200*365*86400), 0)
		days := int(n % 400)
		end := c.AddWorkingDays(start, days)
		require.True(t, end.After(start), "%s + %d wd = %s", start, days, end)
		local := end.In(ChinaZone())
		require.Zero(t, local.Hour()*3600+local.Minute()*60+local.Second(), "a deadline is the end of a day: %s", local)
		require.Equal(t, days, c.WorkingDaysLeft(start, end), "%s + %d wd = %s", start, days, end)
		if days > 0 {
			require.True(t, c.IsWorkingDay(end.Add(-time.Hour)), "the last day counted is a working day: %s", end)
		}
		next := c.AddWorkingDays(start, days+1)
		require.True(t, next.After(end), "one more working day ends later")
		require.Equal(t, end, c.AddWorkingDays(start.In(time.UTC), days), "the zone of the start does not matter")
	})
}
