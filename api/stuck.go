package api

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"civicflow"
	"civicflow/postgres"
	"civicflow/supervision"
)

// Technically stuck cases (issue 4): what no deadline shows. The list
// reads what the background scan (package supervision) stored — one index
// scan, however many cases there are — and says how fresh that is; only
// the cheap check whether workers poll the task queue is asked live, so
// that a queue without workers shows at once. See docs/deadlines.md.

func durationParam(c echo.Context, name string, def time.Duration) (time.Duration, error) {
	v := c.QueryParam(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || d > 30*24*time.Hour {
		return 0, civicflow.Invalid(civicflow.FieldError{Field: name, Reason: "must be a duration such as 90s, 10m or 2h"})
	}
	return d, nil
}

type stuckQuery struct {
	Kind     string `query:"kind" validate:"omitempty,max=40"`
	CaseType string `query:"case_type" validate:"omitempty,max=40"`
	Stage    string `query:"stage" validate:"omitempty,max=40"`
	District string `query:"district" validate:"omitempty,len=6,numeric"`
	Township string `query:"township" validate:"omitempty,len=9,numeric"`
	Resolved bool   `query:"resolved"`
	After    string `query:"after" validate:"max=80"`
	Limit    int    `query:"limit" validate:"min=0,max=1000"`
}

// stuckScan is the latest finished scan as the list shows it.
type stuckScan struct {
	*postgres.ScanRun
	AgeSeconds float64 `json:"age_seconds"`
	// Stale: no scan has finished for three intervals; the list may be out
	// of date (the API processes that scan are down, or Temporal is).
	Stale bool `json:"stale"`
}

func (s *Server) listStuck(c echo.Context) error {
	district, err := supervisorDistrict(c)
	if err != nil {
		return err
	}
	if c.QueryParam("quiet_for") != "" {
		return civicflow.Invalid(civicflow.FieldError{Field: "quiet_for",
			Reason: "is set for the background scan (CIVICFLOW_STUCK_SCAN_QUIET_FOR), not per request"})
	}
	retryingFor, err := durationParam(c, "retrying_for", 10*time.Minute)
	if err != nil {
		return err
	}
	pollerSilence, err := durationParam(c, "poller_silence", supervision.DefaultPollerSilence)
	if err != nil {
		return err
	}
	var q stuckQuery
	if err := (&echo.DefaultBinder{}).BindQueryParams(c, &q); err != nil {
		return civicflow.Invalid(civicflow.FieldError{Field: "query", Reason: "limit must be a whole number and resolved true or false"})
	}
	if err := s.validate(q); err != nil {
		return err
	}
	if q.Kind != "" && !slices.Contains(postgres.StuckKinds, q.Kind) {
		return civicflow.Invalid(civicflow.FieldError{Field: "kind", Reason: "must be one of " + strings.Join(postgres.StuckKinds, ", ")})
	}
	if q.Stage != "" && !civicflow.Stage(q.Stage).Valid() {
		return civicflow.Invalid(civicflow.FieldError{Field: "stage", Reason: "is not a known stage"})
	}
	now := time.Now()
	f := postgres.StuckFilter{Kind: q.Kind, CaseType: q.CaseType, Stage: q.Stage, DistrictCode: q.District,
		TownshipCode: q.Township, RetryingFor: retryingFor, Now: now, Resolved: q.Resolved, Limit: q.Limit}
	if f.DistrictCode, err = withinDistrict(district, q.District, q.Township); err != nil {
		return err
	}
	if f.AfterAt, f.AfterID, err = parseTimeCursor(q.After); err != nil {
		return err
	}
	if f.Limit == 0 {
		f.Limit = 200
	}
	ctx := c.Request().Context()
	list, err := s.store.StuckFindings(ctx, f)
	if err != nil {
		return err
	}
	if list == nil {
		list = []postgres.StuckFinding{}
	}
	queueFindings, err := s.store.QueueFindings(ctx)
	if err != nil {
		return err
	}
	if queueFindings == nil {
		queueFindings = []postgres.StuckFinding{}
	}
	resp := map[string]any{"as_of": now, "stuck": list, "queue_findings": queueFindings,
		"task_queues": s.liveQueues(ctx, now, pollerSilence)}
	run, err := s.store.LatestScanRun(ctx)
	if err != nil {
		return err
	}
	if run != nil {
		age, interval := now.Sub(*run.FinishedAt), s.cfg.StuckScanInterval
		if interval <= 0 {
			interval = supervision.DefaultInterval // this process does not scan; others do
		}
		resp["scan"] = stuckScan{ScanRun: run, AgeSeconds: age.Round(time.Millisecond).Seconds(), Stale: age > 3*interval}
	} else {
		resp["scan"] = nil
	}
	if len(list) == f.Limit {
		last := list[len(list)-1]
		at := last.FirstSeenAt
		if f.Resolved {
			at = *last.ResolvedAt
		}
		resp["next_after"] = timeCursor(at, last.ID)
	}
	return c.JSON(http.StatusOK, resp)
}

// liveQueue is a task queue's state asked at request time.
type liveQueue struct {
	postgres.QueueState
	Error string `json:"error,omitempty"`
}

// liveQueues asks Temporal now whether workers poll the task queue: two
// cheap calls, so that a queue without workers shows even before the next
// scan. When Temporal does not answer, the list is still served.
func (s *Server) liveQueues(ctx context.Context, now time.Time, silence time.Duration) []liveQueue {
	qctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	qs, err := supervision.DescribeQueues(qctx, s.temporal, s.cfg.TaskQueue, silence, now)
	if err != nil {
		s.log.Warn("describe task queue", "err", err)
		return []liveQueue{{QueueState: postgres.QueueState{TaskQueue: s.cfg.TaskQueue, Kind: "workflow"},
			Error: "Temporal did not answer; whether workers poll is unknown"}}
	}
	out := make([]liveQueue, len(qs))
	for i, q := range qs {
		out[i] = liveQueue{QueueState: q}
	}
	return out
}
