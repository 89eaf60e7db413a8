package postgres

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"civicflow"
)

// TestDueDateUsesHolidayCalendar: a refusal notice due 3 working days after
// a decision just before Spring Festival 2026 skips the holiday week and
// counts the 调休 Saturday (2026-02-14) as a working day.
func TestDueDateUsesHolidayCalendar(t *testing.T) {
	t.Parallel()
	cal, err := civicflow.NewCalendar(civicflow.OfficialCalendarDays())
	require.NoError(t, err)
	decided := time.Date(2026, 2, 12, 10, 0, 0, 0, civicflow.ChinaZone()) // Thursday
	// Working days after 12 Feb: Fri 13, Sat 14 (调休), then Spring Festival
	// 15-23 Feb, then Tue 24.
	require.Equal(t, "2026-02-24", dueDate(cal, decided, 3))
	plain, err := civicflow.NewCalendar(nil)
	require.NoError(t, err)
	require.Equal(t, "2026-02-17", dueDate(plain, decided, 3), "without the calendar: Mon-Fri only")
}
