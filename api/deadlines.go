package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"civicflow"
	"civicflow/postgres"
	"civicflow/wire"
)

// Deadlines (issue 4): administrators keep the working-day calendar and the
// time limits; supervisors see overdue cases and act on them without
// deciding anything. See docs/deadlines.md.

func requireRole(c echo.Context, what string, roles ...civicflow.Role) error {
	r := actorOf(c).Role
	for _, want := range roles {
		if r == want {
			return nil
		}
	}
	return civicflow.Errorf(civicflow.EFORBIDDEN, "only %s", what)
}

func (s *Server) listCalendar(c echo.Context) error {
	if err := requireRole(c, "administrators manage the calendar", civicflow.RoleAdministrator, civicflow.RoleSupervisor); err != nil {
		return err
	}
	year := time.Now().In(civicflow.ChinaZone()).Year()
	if q := c.QueryParam("year"); q != "" {
		y, err := strconv.Atoi(q)
		if err != nil || y < 2000 || y > 2100 {
			return civicflow.Invalid(civicflow.FieldError{Field: "year", Reason: "must be a year between 2000 and 2100"})
		}
		year = y
	}
	days, err := s.store.CalendarYear(c.Request().Context(), year)
	if err != nil {
		return err
	}
	if days == nil {
		days = []postgres.CalendarEntry{}
	}
	// Only 2025 and 2026 come from the loaded State Council notices; other
	// years hold what administrators entered.
	source := "entered by administrators; no official notice is loaded for this year"
	if year == 2025 || year == 2026 {
		source = civicflow.OfficialCalendarSource
	}
	return c.JSON(http.StatusOK, map[string]any{"year": year, "days": days, "source": source})
}

func calendarDate(c echo.Context) (string, error) {
	d := c.Param("date")
	if _, err := time.Parse(time.DateOnly, d); err != nil {
		return "", civicflow.Invalid(civicflow.FieldError{Field: "date", Reason: "must be a date YYYY-MM-DD"})
	}
	return d, nil
}

func (s *Server) putCalendarDay(c echo.Context) error {
	if err := requireRole(c, "administrators manage the calendar", civicflow.RoleAdministrator); err != nil {
		return err
	}
	date, err := calendarDate(c)
	if err != nil {
		return err
	}
	var req wire.CalendarDayRequest
	if err := s.bind(c, &req); err != nil {
		return err
	}
	d := civicflow.CalendarDay{Date: date, Kind: civicflow.DayKind(req.Kind), Name: strings.TrimSpace(req.Name)}
	if err := s.store.PutCalendarDay(c.Request().Context(), d, actorOf(c).UserID); err != nil {
		return err
	}
	s.calendar.forget()
	auditDetail(c, "kind", d.Kind)
	auditDetail(c, "name", d.Name)
	return c.JSON(http.StatusOK, d)
}

func (s *Server) deleteCalendarDay(c echo.Context) error {
	if err := requireRole(c, "administrators manage the calendar", civicflow.RoleAdministrator); err != nil {
		return err
	}
	date, err := calendarDate(c)
	if err != nil {
		return err
	}
	if err := s.store.DeleteCalendarDay(c.Request().Context(), date); err != nil {
		return err
	}
	s.calendar.forget()
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) listDeadlineRules(c echo.Context) error {
	if err := requireRole(c, "administrators and supervisors read time limits", civicflow.RoleAdministrator, civicflow.RoleSupervisor); err != nil {
		return err
	}
	district := c.QueryParam("district")
	if district != "" && (len(district) != 6 || !isDigits(district)) {
		return civicflow.Invalid(civicflow.FieldError{Field: "district", Reason: "must be a 6-digit district code"})
	}
	rules, err := s.store.DeadlineRules(c.Request().Context(), district)
	if err != nil {
		return err
	}
	if rules == nil {
		rules = []civicflow.DeadlineRule{}
	}
	return c.JSON(http.StatusOK, wire.DeadlineRules{Rules: rules})
}

// ruleTarget checks :jurisdiction (the city or a district) and :stage.
func (s *Server) ruleTarget(c echo.Context) (string, string, error) {
	code, stage := c.Param("jurisdiction"), c.Param("stage")
	if code != civicflow.CityCode {
		j, err := s.store.Jurisdiction(c.Request().Context(), code)
		if civicflow.ErrorCode(err) == civicflow.ENOTFOUND || err == nil && j.Level != civicflow.LevelDistrict {
			return "", "", civicflow.Invalid(civicflow.FieldError{Field: "jurisdiction", Reason: "must be the city (610100) or a district"})
		}
		if err != nil {
			return "", "", err
		}
	}
	return code, stage, nil
}

func (s *Server) putDeadlineRule(c echo.Context) error {
	if err := requireRole(c, "administrators set time limits", civicflow.RoleAdministrator); err != nil {
		return err
	}
	code, stage, err := s.ruleTarget(c)
	if err != nil {
		return err
	}
	var req wire.DeadlineRuleRequest
	if err := s.bind(c, &req); err != nil {
		return err
	}
	r := civicflow.DeadlineRule{CaseType: civicflow.CaseTypeCentralisedCare, Stage: stage, Jurisdiction: code,
		Days: req.Days, Unit: civicflow.DayUnit(req.Unit), ReminderShare: civicflow.DefaultReminderShare}
	if req.CaseType != "" {
		r.CaseType = civicflow.CaseType(req.CaseType)
	}
	if req.ReminderShare != nil {
		r.ReminderShare = *req.ReminderShare
	}
	if err := s.store.PutDeadlineRule(c.Request().Context(), r, actorOf(c).UserID); err != nil {
		return err
	}
	auditDetail(c, "stage", r.Stage)
	auditDetail(c, "days", r.Days)
	auditDetail(c, "unit", r.Unit)
	auditDetail(c, "reminder_share", r.ReminderShare)
	return c.JSON(http.StatusOK, r)
}

func (s *Server) deleteDeadlineRule(c echo.Context) error {
	if err := requireRole(c, "administrators set time limits", civicflow.RoleAdministrator); err != nil {
		return err
	}
	code, stage, err := s.ruleTarget(c)
	if err != nil {
		return err
	}
	caseType := civicflow.CaseTypeCentralisedCare
	if q := c.QueryParam("case_type"); q != "" {
		if caseType = civicflow.CaseType(q); !caseType.Valid() {
			return civicflow.Invalid(civicflow.FieldError{Field: "case_type", Reason: "must be centralised_care or community_rehab"})
		}
	}
	if err := s.store.DeleteDeadlineRule(c.Request().Context(), caseType, stage, code); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// supervisorDistrict is the district a supervisor oversees ("" for the
// whole city).
func supervisorDistrict(c echo.Context) (string, error) {
	a := actorOf(c)
	if a.Role != civicflow.RoleSupervisor {
		return "", civicflow.Errorf(civicflow.EFORBIDDEN, "only supervisors use the supervision view")
	}
	if a.Jurisdiction == civicflow.CityCode {
		return "", nil
	}
	return a.Jurisdiction, nil
}

// withinDistrict narrows the district and township a supervisor asked for
// to their own district (own "": the city supervisor, who may ask for any).
func withinDistrict(own, district, township string) (string, error) {
	if own == "" {
		return district, nil
	}
	if district != "" && district != own || township != "" && civicflow.DistrictOf(township) != own {
		return "", civicflow.Errorf(civicflow.EFORBIDDEN, "that area is outside your jurisdiction")
	}
	return own, nil
}

// timeCursor is the keyset position of a list ordered by a time and an
// ID: the next_after of one page, the after of the next.
func timeCursor(t time.Time, id int64) string {
	return t.UTC().Format(time.RFC3339Nano) + "," + strconv.FormatInt(id, 10)
}

// parseTimeCursor reads an after parameter made by timeCursor ("": the
// first page, nil).
func parseTimeCursor(after string) (*time.Time, int64, error) {
	if after == "" {
		return nil, 0, nil
	}
	at, id, ok := strings.Cut(after, ",")
	t, terr := time.Parse(time.RFC3339Nano, at)
	n, nerr := strconv.ParseInt(id, 10, 64)
	if !ok || terr != nil || nerr != nil {
		return nil, 0, civicflow.Invalid(civicflow.FieldError{Field: "after", Reason: "use the next_after value of the previous page"})
	}
	return &t, n, nil
}

type overdueQuery struct {
	CaseType string `query:"case_type" validate:"omitempty,oneof=centralised_care community_rehab"`
	Stage    string `query:"stage" validate:"omitempty,max=40"`
	District string `query:"district" validate:"omitempty,len=6,numeric"`
	Township string `query:"township" validate:"omitempty,len=9,numeric"`
	Assigned int64  `query:"assigned" validate:"min=0"`
	After    string `query:"after" validate:"max=80"`
	Limit    int    `query:"limit" validate:"min=0,max=500"`
}

// overdueFilter reads the query and narrows it to the supervisor's district.
func (s *Server) overdueFilter(c echo.Context) (postgres.OverdueFilter, int, error) {
	district, err := supervisorDistrict(c)
	if err != nil {
		return postgres.OverdueFilter{}, 0, err
	}
	var q overdueQuery
	if err := (&echo.DefaultBinder{}).BindQueryParams(c, &q); err != nil {
		return postgres.OverdueFilter{}, 0, civicflow.Invalid(civicflow.FieldError{Field: "query", Reason: "assigned and limit must be whole numbers"})
	}
	if err := s.validate(q); err != nil {
		return postgres.OverdueFilter{}, 0, err
	}
	if q.Stage != "" && !civicflow.Stage(q.Stage).Valid() {
		return postgres.OverdueFilter{}, 0, civicflow.Invalid(civicflow.FieldError{Field: "stage", Reason: "is not a known stage"})
	}
	f := postgres.OverdueFilter{Now: time.Now(), CaseType: civicflow.CaseType(q.CaseType), Stage: civicflow.Stage(q.Stage),
		DistrictCode: q.District, TownshipCode: q.Township, AssignedUserID: q.Assigned, Limit: q.Limit}
	if f.DistrictCode, err = withinDistrict(district, q.District, q.Township); err != nil {
		return f, 0, err
	}
	if f.AfterDue, f.AfterID, err = parseTimeCursor(q.After); err != nil {
		return f, 0, err
	}
	if f.Limit == 0 {
		f.Limit = 100
	}
	return f, f.Limit, nil
}

func (s *Server) listOverdue(c echo.Context) error {
	f, limit, err := s.overdueFilter(c)
	if err != nil {
		return err
	}
	list, err := s.store.Overdue(c.Request().Context(), f)
	if err != nil {
		return err
	}
	if list == nil {
		list = []postgres.OverdueCase{}
	}
	resp := map[string]any{"cases": list, "as_of": f.Now}
	if len(list) == limit {
		last := list[len(list)-1]
		resp["next_after"] = timeCursor(last.StageDueAt, last.ID)
	}
	return c.JSON(http.StatusOK, resp)
}

func (s *Server) overdueCounts(c echo.Context) error {
	f, _, err := s.overdueFilter(c)
	if err != nil {
		return err
	}
	counts, err := s.store.OverdueCounts(c.Request().Context(), f)
	if err != nil {
		return err
	}
	if counts == nil {
		counts = []postgres.OverdueCount{}
	}
	return c.JSON(http.StatusOK, map[string]any{"counts": counts, "as_of": f.Now})
}

// listCalendarGaps answers the years the open deadlines in a supervisor's
// area run into without a loaded calendar: the board's warning.
func (s *Server) listCalendarGaps(c echo.Context) error {
	district, err := supervisorDistrict(c)
	if err != nil {
		return err
	}
	now := time.Now()
	gaps, err := s.store.CalendarGaps(c.Request().Context(), now, district)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, wire.CalendarGaps{Gaps: gaps, AsOf: now})
}

func (s *Server) stageDurations(c echo.Context) error {
	district, err := supervisorDistrict(c)
	if err != nil {
		return err
	}
	if q := c.QueryParam("district"); q != "" {
		if district != "" && q != district {
			return civicflow.Errorf(civicflow.EFORBIDDEN, "that district is outside your jurisdiction")
		}
		if len(q) != 6 || !isDigits(q) {
			return civicflow.Invalid(civicflow.FieldError{Field: "district", Reason: "must be a 6-digit district code"})
		}
		district = q
	}
	parse := func(field string, def time.Time) (time.Time, error) {
		v := c.QueryParam(field)
		if v == "" {
			return def, nil
		}
		d, err := time.ParseInLocation(time.DateOnly, v, civicflow.ChinaZone())
		if err != nil {
			return d, civicflow.Invalid(civicflow.FieldError{Field: field, Reason: "must be a date YYYY-MM-DD"})
		}
		return d, nil
	}
	today := time.Now().In(civicflow.ChinaZone())
	to, err := parse("to", time.Date(today.Year(), today.Month(), today.Day()+1, 0, 0, 0, 0, civicflow.ChinaZone()))
	if err != nil {
		return err
	}
	from, err := parse("from", to.AddDate(0, 0, -90))
	if err != nil {
		return err
	}
	if !from.Before(to) {
		return civicflow.Invalid(civicflow.FieldError{Field: "from", Reason: "must be before to"})
	}
	stats, err := s.store.StageDurations(c.Request().Context(), from, to, district)
	if err != nil {
		return err
	}
	if stats == nil {
		stats = []postgres.StageStats{}
	}
	return c.JSON(http.StatusOK, map[string]any{"from": from, "to": to, "district": district, "stages": stats})
}

// supervisedCase loads the case of the path for a supervisor of its area.
func (s *Server) supervisedCase(c echo.Context) (*civicflow.Case, error) {
	if _, err := supervisorDistrict(c); err != nil {
		return nil, err
	}
	return s.officialCase(c)
}

// reassign makes another official of the case's jurisdiction responsible
// for its current stage. It changes who is reminded, not the case.
func (s *Server) reassign(c echo.Context) error {
	cs, err := s.supervisedCase(c)
	if err != nil {
		return err
	}
	var req wire.ReassignRequest
	if err := s.bind(c, &req); err != nil {
		return err
	}
	u, err := s.store.Reassign(c.Request().Context(), cs.ID, req.UserID, actorOf(c), strings.TrimSpace(req.Reasons))
	if err != nil {
		return err
	}
	auditDetail(c, "to_user_id", u.ID)
	auditDetail(c, "from_user_id", cs.AssignedUserID)
	return s.renderCase(c, cs.ID)
}

func (s *Server) addSupervisoryNote(c echo.Context) error {
	cs, err := s.supervisedCase(c)
	if err != nil {
		return err
	}
	var req wire.SupervisorNoteRequest
	if err := s.bind(c, &req); err != nil {
		return err
	}
	if err := s.store.AddSupervisoryNote(c.Request().Context(), cs.ID, actorOf(c), strings.TrimSpace(req.Note)); err != nil {
		return err
	}
	return s.renderCase(c, cs.ID)
}

func (s *Server) remindNow(c echo.Context) error {
	cs, err := s.supervisedCase(c)
	if err != nil {
		return err
	}
	var req wire.RemindRequest
	if err := s.bind(c, &req); err != nil {
		return err
	}
	if err := s.store.RemindNow(c.Request().Context(), cs.ID, actorOf(c), strings.TrimSpace(req.Note)); err != nil {
		return err
	}
	return s.renderCase(c, cs.ID)
}
