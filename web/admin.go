package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"civicflow"
	"civicflow/wire"
)

type userRow struct {
	civicflow.User
	Disabled bool `json:"disabled"`
}

// adminOr runs next for an administrator (or, reading, a supervisor where
// the API lets them read).
func (con *Console) adminOr(c echo.Context, next func(*civicflow.User, creds) error) error {
	return con.officialOr(c, func(u *civicflow.User, cr creds) error {
		if u.Role != civicflow.RoleAdministrator {
			return con.renderError(c, http.StatusForbidden, "err.forbidden")
		}
		return next(u, cr)
	})
}

// adminFail shows an API refusal of an administrator's form on the page
// the form came from.
func (con *Console) adminFail(c echo.Context, err error, back func(status int, errKey string) error) error {
	switch civicflow.ErrorCode(err) {
	case civicflow.EINVALID:
		return back(http.StatusUnprocessableEntity, "admin.invalid")
	case civicflow.ECONFLICT, civicflow.ENOTFOUND, civicflow.EFORBIDDEN:
		return back(statusOf(err), errorKey(err))
	}
	return con.fail(c, err)
}

func (con *Console) adminUsers(c echo.Context) error {
	return con.adminOr(c, func(u *civicflow.User, cr creds) error { return con.showUsers(c, cr, http.StatusOK, "") })
}

func (con *Console) showUsers(c echo.Context, cr creds, status int, errKey string) error {
	var us struct {
		Users []userRow `json:"users"`
	}
	if _, err := con.api.do(c, call{method: http.MethodGet, path: "/api/v1/admin/users", creds: cr}, &us); err != nil {
		return con.fail(c, err)
	}
	var is wire.Institutions
	if _, err := con.api.do(c, call{method: http.MethodGet, path: "/api/v1/institutions", creds: cr}, &is); err != nil {
		return con.fail(c, err)
	}
	p := con.newPage(c, "title.users", map[string]any{"Users": us.Users, "Institutions": is.Institutions, "Roles": civicflow.OfficialRoles})
	if errKey != "" {
		p.Error = p.T(errKey)
	}
	return con.renderPage(c, status, "admin_users", p)
}

func (con *Console) createUser(c echo.Context) error {
	return con.adminOr(c, func(u *civicflow.User, cr creds) error {
		inst, _ := strconv.ParseInt(c.FormValue("institution_id"), 10, 64)
		body := wire.CreateUserRequest{Username: strings.TrimSpace(c.FormValue("username")), DisplayName: strings.TrimSpace(c.FormValue("display_name")),
			Password: c.FormValue("password"), Role: c.FormValue("role"), Jurisdiction: strings.TrimSpace(c.FormValue("jurisdiction")),
			InstitutionID: inst}
		if _, err := con.api.do(c, call{method: http.MethodPost, path: "/api/v1/admin/users", body: body, creds: cr}, nil); err != nil {
			return con.adminFail(c, err, func(st int, k string) error { return con.showUsers(c, cr, st, k) })
		}
		return redirect(c, "/admin/users?done=saved")
	})
}

func (con *Console) userOp(c echo.Context) error {
	return con.adminOr(c, func(u *civicflow.User, cr creds) error {
		id := c.Param("id")
		if _, err := strconv.ParseInt(id, 10, 64); err != nil {
			return con.notFound(c)
		}
		var body any = map[string]any{}
		switch op := c.Param("op"); op {
		case "disable", "enable":
		case "role":
			inst, _ := strconv.ParseInt(c.FormValue("institution_id"), 10, 64)
			body = wire.RoleRequest{Role: c.FormValue("role"), Jurisdiction: strings.TrimSpace(c.FormValue("jurisdiction")), InstitutionID: inst}
		default:
			return con.notFound(c)
		}
		if _, err := con.api.do(c, call{method: http.MethodPost, path: "/api/v1/admin/users/" + id + "/" + c.Param("op"), body: body, creds: cr}, nil); err != nil {
			return con.adminFail(c, err, func(st int, k string) error { return con.showUsers(c, cr, st, k) })
		}
		return redirect(c, "/admin/users?done=saved")
	})
}

func (con *Console) adminDeadlines(c echo.Context) error {
	return con.adminOr(c, func(u *civicflow.User, cr creds) error { return con.showDeadlines(c, cr, http.StatusOK, "") })
}

func (con *Console) showDeadlines(c echo.Context, cr creds, status int, errKey string) error {
	var rs wire.DeadlineRules
	if _, err := con.api.do(c, call{method: http.MethodGet, path: "/api/v1/admin/deadlines", creds: cr}, &rs); err != nil {
		return con.fail(c, err)
	}
	var js wire.Jurisdictions
	if _, err := con.api.do(c, call{method: http.MethodGet, path: "/api/v1/jurisdictions"}, &js); err != nil {
		return con.fail(c, err)
	}
	var areas []civicflow.Jurisdiction
	names := map[string]string{}
	for _, j := range js.Jurisdictions {
		if j.Level == civicflow.LevelCity || j.Level == civicflow.LevelDistrict {
			areas = append(areas, j)
			names[j.Code] = j.Name
		}
	}
	p := con.newPage(c, "title.deadlines", map[string]any{"Rules": rs.Rules, "Areas": areas, "Names": names,
		"Stages": []string{"intake", "investigation", "public_notice", "district_review", civicflow.DeadlineRefusalNotice}})
	if errKey != "" {
		p.Error = p.T(errKey)
	}
	return con.renderPage(c, status, "admin_deadlines", p)
}

func (con *Console) putDeadline(c echo.Context) error {
	return con.adminOr(c, func(u *civicflow.User, cr creds) error {
		days, _ := strconv.Atoi(strings.TrimSpace(c.FormValue("days")))
		path := "/api/v1/admin/deadlines/" + url.PathEscape(c.FormValue("jurisdiction")) + "/" + url.PathEscape(c.FormValue("stage"))
		if _, err := con.api.do(c, call{method: http.MethodPut, path: path, creds: cr,
			body: wire.DeadlineRuleRequest{Days: days, Unit: c.FormValue("unit")}}, nil); err != nil {
			return con.adminFail(c, err, func(st int, k string) error { return con.showDeadlines(c, cr, st, k) })
		}
		return redirect(c, "/admin/deadlines?done=saved")
	})
}

func (con *Console) deleteDeadline(c echo.Context) error {
	return con.adminOr(c, func(u *civicflow.User, cr creds) error {
		path := "/api/v1/admin/deadlines/" + url.PathEscape(c.FormValue("jurisdiction")) + "/" + url.PathEscape(c.FormValue("stage"))
		if _, err := con.api.do(c, call{method: http.MethodDelete, path: path, creds: cr}, nil); err != nil {
			return con.adminFail(c, err, func(st int, k string) error { return con.showDeadlines(c, cr, st, k) })
		}
		return redirect(c, "/admin/deadlines?done=deleted")
	})
}

func (con *Console) adminCalendar(c echo.Context) error {
	return con.adminOr(c, func(u *civicflow.User, cr creds) error { return con.showCalendar(c, cr, http.StatusOK, "") })
}

func (con *Console) showCalendar(c echo.Context, cr creds, status int, errKey string) error {
	year := c.QueryParam("year")
	if _, err := strconv.Atoi(year); err != nil {
		year = strconv.Itoa(con.now().In(civicflow.ChinaZone()).Year())
	}
	var cal struct {
		Year int `json:"year"`
		Days []struct {
			Date   string `json:"date"`
			Kind   string `json:"kind"`
			Name   string `json:"name"`
			Source string `json:"source"`
		} `json:"days"`
		Source string `json:"source"`
	}
	if _, err := con.api.do(c, call{method: http.MethodGet, path: "/api/v1/admin/calendar", query: url.Values{"year": {year}}, creds: cr}, &cal); err != nil {
		return con.adminFail(c, err, func(st int, k string) error { return con.renderError(c, st, k) })
	}
	p := con.newPage(c, "title.calendar", map[string]any{"Cal": cal, "Prev": cal.Year - 1, "Next": cal.Year + 1,
		"Today": time.Now().In(civicflow.ChinaZone()).Format(time.DateOnly)})
	if errKey != "" {
		p.Error = p.T(errKey)
	}
	return con.renderPage(c, status, "admin_calendar", p)
}

func (con *Console) putCalendarDay(c echo.Context) error {
	return con.adminOr(c, func(u *civicflow.User, cr creds) error {
		date := strings.TrimSpace(c.FormValue("date"))
		if _, err := con.api.do(c, call{method: http.MethodPut, path: "/api/v1/admin/calendar/" + url.PathEscape(date), creds: cr,
			body: wire.CalendarDayRequest{Kind: c.FormValue("kind"), Name: strings.TrimSpace(c.FormValue("name"))}}, nil); err != nil {
			return con.adminFail(c, err, func(st int, k string) error { return con.showCalendar(c, cr, st, k) })
		}
		return redirect(c, "/admin/calendar?done=saved&year="+url.QueryEscape(yearOf(date)))
	})
}

func (con *Console) deleteCalendarDay(c echo.Context) error {
	return con.adminOr(c, func(u *civicflow.User, cr creds) error {
		date := strings.TrimSpace(c.FormValue("date"))
		if _, err := con.api.do(c, call{method: http.MethodDelete, path: "/api/v1/admin/calendar/" + url.PathEscape(date), creds: cr}, nil); err != nil {
			return con.adminFail(c, err, func(st int, k string) error { return con.showCalendar(c, cr, st, k) })
		}
		return redirect(c, "/admin/calendar?done=deleted&year="+url.QueryEscape(yearOf(date)))
	})
}

func yearOf(date string) string {
	if len(date) >= 4 {
		return date[:4]
	}
	return ""
}
