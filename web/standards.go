package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"civicflow"
	"civicflow/wire"
)

// The monthly support standards of the register (docs/register.md): per
// district, from an effective date; administrators set one from today
// or later and remove one not yet in force.

func (con *Console) adminStandards(c echo.Context) error {
	return con.adminOr(c, func(u *civicflow.User, cr creds) error { return con.showStandards(c, cr, http.StatusOK, "") })
}

func (con *Console) showStandards(c echo.Context, cr creds, status int, errKey string) error {
	var ss wire.SupportStandards
	if _, err := con.api.do(c, call{method: http.MethodGet, path: "/api/v1/admin/support-standards", creds: cr}, &ss); err != nil {
		return con.fail(c, err)
	}
	var js wire.Jurisdictions
	if _, err := con.api.do(c, call{method: http.MethodGet, path: "/api/v1/jurisdictions"}, &js); err != nil {
		return con.fail(c, err)
	}
	var districts []civicflow.Jurisdiction
	for _, j := range js.Jurisdictions {
		if j.Level == civicflow.LevelDistrict {
			districts = append(districts, j)
		}
	}
	today := con.now().In(civicflow.ChinaZone()).Format("2006-01-02")
	p := con.newPage(c, "title.standards", map[string]any{"Standards": ss.Standards, "Districts": districts, "Today": today})
	if errKey != "" {
		p.Error = p.T(errKey)
	}
	return con.renderPage(c, status, "admin_standards", p)
}

func standardPath(c echo.Context) string {
	return "/api/v1/admin/support-standards/" + url.PathEscape(c.FormValue("district")) + "/" +
		url.PathEscape(strings.TrimSpace(c.FormValue("effective_from")))
}

func (con *Console) putStandard(c echo.Context) error {
	return con.adminOr(c, func(u *civicflow.User, cr creds) error {
		amount, _ := strconv.Atoi(strings.TrimSpace(c.FormValue("monthly_amount")))
		if _, err := con.api.do(c, call{method: http.MethodPut, path: standardPath(c), creds: cr,
			body: wire.SupportStandardRequest{MonthlyAmount: amount}}, nil); err != nil {
			return con.adminFail(c, err, func(st int, k string) error { return con.showStandards(c, cr, st, k) })
		}
		return redirect(c, "/admin/standards?done=saved")
	})
}

func (con *Console) deleteStandard(c echo.Context) error {
	return con.adminOr(c, func(u *civicflow.User, cr creds) error {
		if _, err := con.api.do(c, call{method: http.MethodDelete, path: standardPath(c), creds: cr}, nil); err != nil {
			return con.adminFail(c, err, func(st int, k string) error { return con.showStandards(c, cr, st, k) })
		}
		return redirect(c, "/admin/standards?done=deleted")
	})
}
