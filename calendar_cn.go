package civicflow

// OfficialCalendarSource names the notices the loaded calendar data comes
// from; docs/deadlines.md quotes them.
const OfficialCalendarSource = "国务院办公厅关于2025年部分节假日安排的通知 (国办发明电〔2024〕12号, 2024-11-12); " +
	"国务院办公厅关于2026年部分节假日安排的通知 (国办发明电〔2025〕7号, 2025-11-04)"

// OfficialCalendarDays lists the public holidays and adjusted working
// weekends (调休) of mainland China for 2025 and 2026 as set by the State
// Council General Office. Migration 005 loads the same rows (a test in
// package postgres checks that they agree); later years are added by
// administrators through the API when the notice is published.
func OfficialCalendarDays() []CalendarDay {
	var out []CalendarDay
	hol := func(name string, dates ...string) {
		for _, d := range dates {
			out = append(out, CalendarDay{Date: d, Kind: DayHoliday, Name: name})
		}
	}
	work := func(name string, dates ...string) {
		for _, d := range dates {
			out = append(out, CalendarDay{Date: d, Kind: DayWorkday, Name: name + "调休上班"})
		}
	}
	// 2025
	hol("元旦", "2025-01-01")
	hol("春节", "2025-01-28", "2025-01-29", "2025-01-30", "2025-01-31", "2025-02-01", "2025-02-02", "2025-02-03", "2025-02-04")
	work("春节", "2025-01-26", "2025-02-08")
	hol("清明节", "2025-04-04", "2025-04-05", "2025-04-06")
	hol("劳动节", "2025-05-01", "2025-05-02", "2025-05-03", "2025-05-04", "2025-05-05")
	work("劳动节", "2025-04-27")
	hol("端午节", "2025-05-31", "2025-06-01", "2025-06-02")
	hol("国庆节、中秋节", "2025-10-01", "2025-10-02", "2025-10-03", "2025-10-04", "2025-10-05", "2025-10-06", "2025-10-07", "2025-10-08")
	work("国庆节", "2025-09-28", "2025-10-11")
	// 2026
	hol("元旦", "2026-01-01", "2026-01-02", "2026-01-03")
	work("元旦", "2026-01-04")
	hol("春节", "2026-02-15", "2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19", "2026-02-20", "2026-02-21", "2026-02-22", "2026-02-23")
	work("春节", "2026-02-14", "2026-02-28")
	hol("清明节", "2026-04-04", "2026-04-05", "2026-04-06")
	hol("劳动节", "2026-05-01", "2026-05-02", "2026-05-03", "2026-05-04", "2026-05-05")
	work("劳动节", "2026-05-09")
	hol("端午节", "2026-06-19", "2026-06-20", "2026-06-21")
	hol("中秋节", "2026-09-25", "2026-09-26", "2026-09-27")
	hol("国庆节", "2026-10-01", "2026-10-02", "2026-10-03", "2026-10-04", "2026-10-05", "2026-10-06", "2026-10-07")
	work("国庆节", "2026-09-20", "2026-10-10")
	return out
}
