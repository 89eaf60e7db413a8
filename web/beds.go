package web

import (
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"civicflow"
	"civicflow/wire"
)

// The wait-list for supervisors and district reviewers, and the
// administrators' institutions and beds (docs/beds.md). The API decides
// who sees what: a district's readers get their district's entries, an
// administrator of a district that district's institutions.

// careLevels are the care levels in the order the pages show them.
var careLevels = []civicflow.CareLevel{civicflow.CareSelf, civicflow.CareSemiDependent, civicflow.CareDependent}

// waitGroup is one care level's queue.
type waitGroup struct {
	Care    civicflow.CareLevel
	Entries []civicflow.WaitlistEntry
}

type waitlistData struct {
	Groups []waitGroup
	Names  map[string]string
	Total  int
}

// Name is a jurisdiction's name, or its code.
func (d waitlistData) Name(code string) string {
	if n, ok := d.Names[code]; ok {
		return n
	}
	return code
}

// jurisdictionNames reads the names of every district and township.
func (con *Console) jurisdictionNames(c echo.Context) (map[string]string, []civicflow.Jurisdiction, error) {
	var js wire.Jurisdictions
	if _, err := con.api.do(c, call{method: http.MethodGet, path: "/api/v1/jurisdictions"}, &js); err != nil {
		return nil, nil, err
	}
	names := map[string]string{}
	for _, j := range js.Jurisdictions {
		names[j.Code] = j.Name
	}
	return names, js.Jurisdictions, nil
}

func (con *Console) waitlist(c echo.Context) error {
	return con.officialOr(c, func(u *civicflow.User, cr creds) error {
		if u.Role != civicflow.RoleSupervisor && u.Role != civicflow.RoleDistrictReviewer {
			return con.renderError(c, http.StatusForbidden, "err.forbidden")
		}
		var wl wire.Waitlist
		if _, err := con.api.do(c, call{method: http.MethodGet, path: "/api/v1/supervision/waitlist", creds: cr}, &wl); err != nil {
			return con.fail(c, err)
		}
		names, _, err := con.jurisdictionNames(c)
		if err != nil {
			return con.fail(c, err)
		}
		d := waitlistData{Names: names, Total: len(wl.Waitlist)}
		for _, lvl := range careLevels {
			g := waitGroup{Care: lvl}
			for _, e := range wl.Waitlist {
				if e.CareLevel == lvl {
					g.Entries = append(g.Entries, e)
				}
			}
			// The order it is served in: the city's.
			sort.SliceStable(g.Entries, func(i, j int) bool { return g.Entries[i].CityPosition < g.Entries[j].CityPosition })
			d.Groups = append(d.Groups, g)
		}
		return con.renderPage(c, http.StatusOK, "waitlist", con.newPage(c, "waitlist.title", d))
	})
}

// institutionRow is an institution with its beds counted per care level.
type institutionRow struct {
	civicflow.InstitutionRecord
	// Beds counts the beds in use (not retired) per care level, Free
	// those nobody holds.
	Beds, Free map[civicflow.CareLevel]int
}

type institutionsData struct {
	Institutions []institutionRow
	Districts    []civicflow.Jurisdiction
	Names        map[string]string
	Cares        []civicflow.CareLevel
	In           institutionInput
	Errors       map[string]string
}

// institutionInput is what the create form holds.
type institutionInput struct {
	Name, DistrictCode, Address string
	Designated                  bool
}

// countBeds counts an institution's beds in use and free per care level.
func countBeds(in civicflow.InstitutionRecord, beds []civicflow.Bed) institutionRow {
	r := institutionRow{InstitutionRecord: in, Beds: map[civicflow.CareLevel]int{}, Free: map[civicflow.CareLevel]int{}}
	for _, b := range beds {
		if b.RetiredAt != nil {
			continue
		}
		r.Beds[b.CareLevel]++
		if b.Holder == nil {
			r.Free[b.CareLevel]++
		}
	}
	return r
}

// numericParam is the path parameter name when it is a positive whole
// number (an ID), else "".
func numericParam(c echo.Context, name string) string {
	if id, err := strconv.ParseInt(c.Param(name), 10, 64); err != nil || id <= 0 {
		return ""
	}
	return c.Param(name)
}

func institutionPath(id int64) string {
	return "/api/v1/admin/institutions/" + strconv.FormatInt(id, 10)
}

func (con *Console) adminInstitutions(c echo.Context) error {
	return con.adminOr(c, func(u *civicflow.User, cr creds) error {
		return con.showInstitutions(c, u, cr, http.StatusOK, institutionInput{Designated: true}, nil)
	})
}

// showInstitutions lists the administrator's institutions. The list
// answer has no beds, so each institution's beds are read too: one call
// per institution, a few dozen in a city.
func (con *Console) showInstitutions(c echo.Context, u *civicflow.User, cr creds, status int, in institutionInput, errs map[string]string) error {
	var is wire.InstitutionRecords
	if _, err := con.api.do(c, call{method: http.MethodGet, path: "/api/v1/admin/institutions", creds: cr}, &is); err != nil {
		return con.fail(c, err)
	}
	names, js, err := con.jurisdictionNames(c)
	if err != nil {
		return con.fail(c, err)
	}
	d := institutionsData{Names: names, Cares: careLevels, In: in, Errors: errs}
	for _, inst := range is.Institutions {
		var bs wire.InstitutionBeds
		if _, err := con.api.do(c, call{method: http.MethodGet, path: institutionPath(inst.ID) + "/beds", creds: cr}, &bs); err != nil {
			return con.fail(c, err)
		}
		d.Institutions = append(d.Institutions, countBeds(inst, bs.Beds))
	}
	for _, j := range js {
		if j.Level == civicflow.LevelDistrict && (u.Jurisdiction == civicflow.CityCode || u.Jurisdiction == j.Code) {
			d.Districts = append(d.Districts, j)
		}
	}
	if in.DistrictCode == "" && len(d.Districts) > 0 {
		d.In.DistrictCode = d.Districts[0].Code
	}
	p := con.opsPage(c, "beds.title_list", "beds.flash.", d)
	p.withErrors(errs)
	return con.renderPage(c, status, "beds_institutions", p)
}

// bedsFieldToForm maps the API's fields of the institution and bed forms
// to the forms'.
func bedsFieldToForm(field string) string {
	switch field {
	case "name", "district_code", "address", "label", "care_level":
		return field
	}
	return "form"
}

// bedsFail shows the API's refusal of an administrator's form: a 422 at
// its fields, a 409 (a name or label taken, a held bed) said for the
// form, else the error page.
func (con *Console) bedsFail(c echo.Context, err error, back func(status int, errs map[string]string) error) error {
	var de *civicflow.Error
	p := con.newPage(c, "", nil)
	switch {
	case asDomain(err, &de) && de.Code == civicflow.EINVALID:
		return back(http.StatusUnprocessableEntity, p.inlineErrors(de, "beds.field.", bedsFieldToForm))
	case asDomain(err, &de) && de.Code == civicflow.ECONFLICT:
		return back(http.StatusConflict, map[string]string{"form": p.T("beds.conflict")})
	}
	return con.fail(c, err)
}

func (con *Console) createInstitution(c echo.Context) error {
	return con.adminOr(c, func(u *civicflow.User, cr creds) error {
		in := institutionInput{Name: strings.TrimSpace(c.FormValue("name")), DistrictCode: c.FormValue("district_code"),
			Address: strings.TrimSpace(c.FormValue("address")), Designated: c.FormValue("designated") == "yes"}
		var rec civicflow.InstitutionRecord
		_, err := con.api.do(c, call{method: http.MethodPost, path: "/api/v1/admin/institutions", creds: cr,
			body: wire.CreateInstitutionRequest{Name: in.Name, DistrictCode: in.DistrictCode, Designated: &in.Designated, Address: in.Address}}, &rec)
		if err != nil {
			return con.bedsFail(c, err, func(st int, errs map[string]string) error { return con.showInstitutions(c, u, cr, st, in, errs) })
		}
		return redirect(c, "/admin/institutions/"+strconv.FormatInt(rec.ID, 10)+"?done=created")
	})
}

type institutionData struct {
	Institution civicflow.InstitutionRecord
	Beds        []civicflow.Bed
	Counts      institutionRow
	District    string
	Cares       []civicflow.CareLevel
	// Label and Care: the add-bed form as typed; Name: the rename form.
	Label, Care, Name string
	Errors            map[string]string
}

func (con *Console) institutionPage(c echo.Context) error {
	return con.adminOr(c, func(u *civicflow.User, cr creds) error {
		return con.showInstitution(c, cr, http.StatusOK, institutionData{}, nil)
	})
}

func (con *Console) showInstitution(c echo.Context, cr creds, status int, d institutionData, errs map[string]string) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return con.notFound(c)
	}
	var bs wire.InstitutionBeds
	if _, err := con.api.do(c, call{method: http.MethodGet, path: institutionPath(id) + "/beds", creds: cr}, &bs); err != nil {
		return con.fail(c, err)
	}
	names, _, err := con.jurisdictionNames(c)
	if err != nil {
		return con.fail(c, err)
	}
	d.Institution, d.Beds, d.Counts, d.Cares, d.Errors = bs.Institution, bs.Beds, countBeds(bs.Institution, bs.Beds), careLevels, errs
	d.District = names[bs.Institution.DistrictCode]
	if d.Name == "" {
		d.Name = bs.Institution.Name
	}
	p := con.opsPage(c, "beds.title_institution", "beds.flash.", d)
	p.withErrors(errs)
	return con.renderPage(c, status, "beds_institution", p)
}

func (con *Console) updateInstitution(c echo.Context) error {
	return con.adminOr(c, func(u *civicflow.User, cr creds) error {
		id := numericParam(c, "id")
		if id == "" {
			return con.notFound(c)
		}
		name, designated := strings.TrimSpace(c.FormValue("name")), c.FormValue("designated") == "yes"
		_, err := con.api.do(c, call{method: http.MethodPost, path: "/api/v1/admin/institutions/" + id, creds: cr,
			body: wire.UpdateInstitutionRequest{Name: &name, Designated: &designated}}, nil)
		if err != nil {
			return con.bedsFail(c, err, func(st int, errs map[string]string) error {
				return con.showInstitution(c, cr, st, institutionData{Name: name}, errs)
			})
		}
		return redirect(c, "/admin/institutions/"+id+"?done=saved")
	})
}

func (con *Console) addBed(c echo.Context) error {
	return con.adminOr(c, func(u *civicflow.User, cr creds) error {
		id := numericParam(c, "id")
		if id == "" {
			return con.notFound(c)
		}
		label, care := strings.TrimSpace(c.FormValue("label")), c.FormValue("care_level")
		_, err := con.api.do(c, call{method: http.MethodPost, path: "/api/v1/admin/institutions/" + id + "/beds", creds: cr,
			body: wire.AddBedRequest{Label: label, CareLevel: care}}, nil)
		if err != nil {
			return con.bedsFail(c, err, func(st int, errs map[string]string) error {
				return con.showInstitution(c, cr, st, institutionData{Label: label, Care: care}, errs)
			})
		}
		return redirect(c, "/admin/institutions/"+id+"?done=added")
	})
}

func (con *Console) retireBed(c echo.Context) error {
	return con.adminOr(c, func(u *civicflow.User, cr creds) error {
		id, bed := numericParam(c, "id"), numericParam(c, "bed")
		if id == "" || bed == "" {
			return con.notFound(c)
		}
		_, err := con.api.do(c, call{method: http.MethodPost, path: "/api/v1/admin/institutions/" + id + "/beds/" + bed + "/retire",
			creds: cr, body: map[string]any{}}, nil)
		if err != nil {
			return con.bedsFail(c, err, func(st int, errs map[string]string) error {
				if _, taken := errs["form"]; taken && st == http.StatusConflict {
					errs["form"] = con.newPage(c, "", nil).T("beds.retire_conflict")
				}
				return con.showInstitution(c, cr, st, institutionData{}, errs)
			})
		}
		return redirect(c, "/admin/institutions/"+id+"?done=retired")
	})
}

// ReleaseReasons are the causes release_allocation takes (the API's
// release_reason), for its form.
func (d actionData) ReleaseReasons() []string {
	if d.Action != civicflow.ActionReleaseAllocation {
		return nil
	}
	return []string{"declined", "died", "no_show"}
}
