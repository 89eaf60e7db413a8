package web

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"civicflow"
	"civicflow/wire"
)

type overdueRow struct {
	ID           int64           `json:"id"`
	Reference    string          `json:"reference"`
	Stage        civicflow.Stage `json:"stage"`
	DistrictCode string          `json:"district_code"`
	TownshipCode string          `json:"township_code"`
	StageDueAt   time.Time       `json:"stage_due_at"`
	DaysLate     float64         `json:"days_late"`
	Assigned     int64           `json:"assigned_user_id"`
}

type stuckRow struct {
	Kind      string          `json:"kind"`
	Cause     string          `json:"cause"`
	Reference string          `json:"reference"`
	Stage     civicflow.Stage `json:"stage"`
	Activity  string          `json:"activity"`
	Since     *time.Time      `json:"since"`
}

// bar is one bar of a server-rendered SVG chart.
type bar struct {
	Label  string
	Text   string
	Y      int
	Width  int
	TextY  int
	ValueX int
}

// chart is a horizontal bar chart; the template draws it as SVG.
type chart struct {
	ID     string
	Title  string
	Bars   []bar
	Height int
}

const (
	chartBarWidth = 360 // px for the largest value
	chartRow      = 28
)

func newChart(id, title string, labels []string, values []float64, text func(float64) string) chart {
	top := 0.0
	for _, v := range values {
		if v > top {
			top = v
		}
	}
	ch := chart{ID: id, Title: title, Height: len(labels)*chartRow + 8}
	for i, l := range labels {
		w := 0
		if top > 0 {
			w = int(values[i] / top * chartBarWidth)
		}
		if values[i] > 0 && w < 2 {
			w = 2
		}
		y := i*chartRow + 4
		ch.Bars = append(ch.Bars, bar{Label: l, Text: text(values[i]), Y: y, Width: w, TextY: y + 15, ValueX: 160 + w + 6})
	}
	return ch
}

type boardData struct {
	// CalendarGaps are the years open deadlines run into with no holiday
	// calendar loaded: each a warning above the board.
	CalendarGaps []civicflow.CalendarGap
	Overdue      []overdueRow
	Stuck        []stuckRow
	StuckNote    string
	Districts    []string // the rows of the matrix
	Stages       []civicflow.Stage
	Counts       map[string]map[civicflow.Stage]int64
	Names        map[string]string
	Filter       map[string]string
	Charts       []chart
}

// Cell is one count of the district × stage matrix.
func (d boardData) Cell(district string, stage civicflow.Stage) int64 {
	return d.Counts[district][stage]
}

// Name is a jurisdiction's name.
func (d boardData) Name(code string) string {
	if n, ok := d.Names[code]; ok {
		return n
	}
	return code
}

// openStages are the stages a case can wait in.
var openStages = []civicflow.Stage{civicflow.StageIntake, civicflow.StageAwaitingSupplements, civicflow.StageInvestigation,
	civicflow.StagePublicNotice, civicflow.StageDistrictReview, civicflow.StagePlacement, civicflow.StageWaitlisted,
	civicflow.StageAwaitingAdmission}

func (con *Console) board(c echo.Context) error {
	return con.officialOr(c, func(u *civicflow.User, cr creds) error {
		if u.Role != civicflow.RoleSupervisor {
			return con.renderError(c, http.StatusForbidden, "err.forbidden")
		}
		p := con.newPage(c, "title.board", nil)
		q := url.Values{}
		filter := map[string]string{}
		for _, k := range []string{"district", "stage"} {
			if v := c.QueryParam(k); v != "" {
				q.Set(k, v)
				filter[k] = v
			}
		}
		d := boardData{Filter: filter, Stages: openStages, Counts: map[string]map[civicflow.Stage]int64{}, Names: map[string]string{}}
		var ov struct {
			Cases []overdueRow `json:"cases"`
		}
		if _, err := con.api.do(c, call{method: http.MethodGet, path: "/api/v1/supervision/overdue", query: q, creds: cr}, &ov); err != nil {
			return con.fail(c, err)
		}
		d.Overdue = ov.Cases
		var gaps wire.CalendarGaps
		if _, err := con.api.do(c, call{method: http.MethodGet, path: "/api/v1/supervision/calendar-gaps", creds: cr}, &gaps); err == nil {
			d.CalendarGaps = gaps.Gaps
		} // without it the board stands; the warning is also in /readyz and the log
		var counts struct {
			Counts []struct {
				District string          `json:"district_code"`
				Stage    civicflow.Stage `json:"stage"`
				Count    int64           `json:"count"`
			} `json:"counts"`
		}
		if _, err := con.api.do(c, call{method: http.MethodGet, path: "/api/v1/supervision/overdue/counts", creds: cr}, &counts); err != nil {
			return con.fail(c, err)
		}
		for _, ct := range counts.Counts {
			if d.Counts[ct.District] == nil {
				d.Counts[ct.District] = map[civicflow.Stage]int64{}
				d.Districts = append(d.Districts, ct.District)
			}
			d.Counts[ct.District][ct.Stage] += ct.Count
		}
		sort.Strings(d.Districts)
		var stuck struct {
			Stuck []stuckRow `json:"stuck"`
		}
		if _, err := con.api.do(c, call{method: http.MethodGet, path: "/api/v1/supervision/stuck", query: url.Values{"limit": {"100"}},
			creds: cr}, &stuck); err != nil {
			// The stuck scan asks Temporal; the rest of the board stands without it.
			d.StuckNote = p.T(errorKey(err))
		}
		d.Stuck = stuck.Stuck
		var js wire.Jurisdictions
		if _, err := con.api.do(c, call{method: http.MethodGet, path: "/api/v1/jurisdictions"}, &js); err == nil {
			for _, j := range js.Jurisdictions {
				if j.Level != civicflow.LevelCommunity {
					d.Names[j.Code] = j.Name
				}
			}
		}

		// Cases per stage: every open case the supervisor reads.
		items, err := con.listCases(c, cr, nil, 20000)
		if err != nil {
			return con.fail(c, err)
		}
		perStage := map[civicflow.Stage]float64{}
		for _, it := range items {
			perStage[it.Stage]++
		}
		var labels []string
		var values []float64
		for _, s := range openStages {
			labels = append(labels, p.Stage(s))
			values = append(values, perStage[s])
		}
		perStageChart := newChart("chart-stages", p.T("board.chart_stages"), labels, values,
			func(v float64) string { return strconv.Itoa(int(v)) })

		var durations struct {
			Stages []struct {
				Stage      civicflow.Stage `json:"stage"`
				Visits     int64           `json:"visits"`
				MedianDays float64         `json:"median_days"`
			} `json:"stages"`
		}
		if _, err := con.api.do(c, call{method: http.MethodGet, path: "/api/v1/supervision/stage-durations", creds: cr}, &durations); err != nil {
			return con.fail(c, err)
		}
		med := map[civicflow.Stage]float64{}
		for _, s := range durations.Stages {
			med[s.Stage] = s.MedianDays
		}
		labels, values = nil, nil
		for _, s := range openStages {
			labels = append(labels, p.Stage(s))
			values = append(values, med[s])
		}
		medianChart := newChart("chart-median", p.T("board.chart_median"), labels, values,
			func(v float64) string {
				switch {
				case v > 0 && v < 1.0/24:
					return p.T("board.minutes", fmt.Sprintf("%.0f", v*24*60))
				case v > 0 && v < 1:
					return p.T("board.hours", fmt.Sprintf("%.1f", v*24))
				}
				return p.T("board.days", fmt.Sprintf("%.1f", v))
			})
		d.Charts = []chart{perStageChart, medianChart}
		p.Data = d
		return con.renderPage(c, http.StatusOK, "board", p)
	})
}

// supervise sends a supervisor's form to one of the supervision routes.
func (con *Console) supervise(c echo.Context, path string, body any, done string) error {
	return con.officialOr(c, func(u *civicflow.User, cr creds) error {
		ref := c.Param("ref")
		if _, err := con.api.do(c, call{method: http.MethodPost, path: "/api/v1/supervision/cases/" + url.PathEscape(ref) + path,
			body: body, creds: cr}, nil); err != nil {
			key := errorKey(err)
			if civicflow.ErrorCode(err) == civicflow.EINVALID {
				key = "supervise.invalid"
			}
			return con.showCase(c, u, cr, statusOf(err), key, nil)
		}
		return redirect(c, "/cases/"+url.PathEscape(ref)+"?done="+done)
	})
}

func (con *Console) reassign(c echo.Context) error {
	id, _ := strconv.ParseInt(strings.TrimSpace(c.FormValue("user_id")), 10, 64)
	return con.supervise(c, "/reassign", wire.ReassignRequest{UserID: id, Reasons: strings.TrimSpace(c.FormValue("reasons"))}, "reassigned")
}

func (con *Console) note(c echo.Context) error {
	return con.supervise(c, "/notes", wire.SupervisorNoteRequest{Note: strings.TrimSpace(c.FormValue("note"))}, "noted")
}

func (con *Console) remind(c echo.Context) error {
	return con.supervise(c, "/remind", wire.RemindRequest{Note: strings.TrimSpace(c.FormValue("note"))}, "reminded")
}
