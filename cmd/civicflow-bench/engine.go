package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"civicflow"
)

// httpClient is shared by every simulated official and applicant; its pool
// is large enough that the bench never waits for a connection.
var httpClient = &http.Client{
	Timeout:   90 * time.Second,
	Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute},
}

// idSeq numbers the bench's applicants; every one gets a distinct, valid ID
// number of a person born between 1930 and 1960 in Yanta district.
var idSeq atomic.Int64

func newIDNumber() string {
	n := idSeq.Add(1)
	born := time.Date(1930, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(n/1000)%10000)
	first17 := fmt.Sprintf("610113%s%03d", born.Format("20060102"), n%1000)
	return first17 + string(civicflow.IDCheckChar(first17))
}

var careLevels = []string{"self_care", "semi_dependent", "dependent"}

// benchTownship is where every bench applicant is registered (小寨路街道).
const benchTownship = "610113001"

func applicationBody(n int64) map[string]any {
	return map[string]any{
		"person": map[string]any{"name": "王建国", "id_number": newIDNumber(), "phone": "13800001234",
			"hukou_township_code": benchTownship, "address": "小寨东路12号", "self_care": careLevels[n%3]},
		"applicant": map[string]any{"relation": "relative", "name": "王小明", "phone": "13912345678"},
		"statement": "独居，无劳动能力",
	}
}

// apiClient talks to the civicflow API as the bench's officials.
type apiClient struct {
	base     string
	township string // bearer tokens
	district string
	staff    string
	poll     time.Duration
	// confirmRetries counts confirm_admission answered 403 and sent again.
	confirmRetries atomic.Int64
	// reads counts the case pages the officials loaded while waiting.
	reads atomic.Int64
}

type apiAnswer struct {
	status int
	body   answerFields
	raw    []byte
}

// answerFields are the few fields of the API's answers the driver reads.
// Decoding only them keeps the driver's own CPU (counted on this machine
// with the systems under test) low: an official's browser runs elsewhere.
type answerFields struct {
	Token     string `json:"token"`
	Reference string `json:"reference"`
	Stage     string `json:"stage"`
	Version   int64  `json:"version"`
}

func (c *apiClient) call(ctx context.Context, method, path, token string, body any) (apiAnswer, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return apiAnswer{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return apiAnswer{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return apiAnswer{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return apiAnswer{}, err
	}
	a := apiAnswer{status: resp.StatusCode, raw: raw}
	if len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &a.body); err != nil {
			return a, fmt.Errorf("%s %s: decode: %w", method, path, err)
		}
	}
	return a, nil
}

func (c *apiClient) login(ctx context.Context, user, password string) (string, error) {
	r, err := c.call(ctx, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": user, "password": password})
	if err != nil {
		return "", err
	}
	if r.status != http.StatusOK {
		return "", fmt.Errorf("login %s: %d %s", user, r.status, r.raw)
	}
	return r.body.Token, nil
}

// submit posts one application and returns the answer.
func (c *apiClient) submit(ctx context.Context, n int64) (apiAnswer, error) {
	r, err := c.call(ctx, http.MethodPost, "/api/v1/applications", "", applicationBody(n))
	if err != nil {
		return r, err
	}
	// The API waits a few seconds for the workflow to take the case in;
	// under load it may answer before that, still "submitted".
	if st := r.body.Stage; r.status != http.StatusCreated || st != string(civicflow.StageIntake) && st != string(civicflow.StageSubmitted) {
		return r, fmt.Errorf("submit: %d %s", r.status, r.raw)
	}
	return r, nil
}

// act sends one official action and checks the stage the answer shows.
func (c *apiClient) act(ctx context.Context, token, ref, action string, body any, want ...civicflow.Stage) (apiAnswer, error) {
	r, err := c.call(ctx, http.MethodPost, "/api/v1/cases/"+ref+"/actions/"+action, token, body)
	if err != nil {
		return r, err
	}
	if r.status != http.StatusOK {
		return r, fmt.Errorf("%s %s: %d %s", action, ref, r.status, r.raw)
	}
	for _, w := range want {
		if r.body.Stage == string(w) {
			return r, nil
		}
	}
	return r, fmt.Errorf("%s %s: stage %s, want %v", action, ref, r.body.Stage, want)
}

// waitStage loads the case page until it shows stage: waiting for each
// next change, or reloading every c.poll as a person would,
// until the case shows stage.
func (c *apiClient) waitStage(ctx context.Context, token, ref string, stage civicflow.Stage) (apiAnswer, error) {
	deadline := time.Now().Add(2 * time.Minute)
	path := "/api/v1/cases/" + ref
	for {
		c.reads.Add(1)
		r, err := c.call(ctx, http.MethodGet, path, token, nil)
		if err != nil {
			return r, err
		}
		if r.status != http.StatusOK {
			return r, fmt.Errorf("detail %s: %d %s", ref, r.status, r.raw)
		}
		if r.body.Stage == string(stage) {
			return r, nil
		}
		if time.Now().After(deadline) {
			return r, fmt.Errorf("case %s: stage %s after 2m, want %s", ref, r.body.Stage, stage)
		}
		if c.poll <= 0 {
			// The page waits for the case's next change (docs/api.md).
			path = fmt.Sprintf("/api/v1/cases/%s?after_version=%d&wait=20s", ref, r.body.Version)
			continue
		}
		select {
		case <-ctx.Done():
			return r, ctx.Err()
		case <-time.After(c.poll):
		}
	}
}

// actionSamples collects the round trip of each official action.
type actionSamples struct {
	mu sync.Mutex
	by map[string]*samples
}

func (a *actionSamples) get(name string) *samples {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.by == nil {
		a.by = map[string]*samples{}
	}
	s, ok := a.by[name]
	if !ok {
		s = &samples{}
		a.by[name] = s
	}
	return s
}

func (a *actionSamples) summary() map[string]Latency {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]Latency{}
	var all []time.Duration
	errs := 0
	for k, s := range a.by {
		out[k] = s.summary()
		if k != "submit" {
			s.mu.Lock()
			all = append(all, s.d...)
			errs += s.errors
			s.mu.Unlock()
		}
	}
	out["all_updates"] = summarize(all, errs)
	return out
}

// timed runs f and records its duration under name when rec is not nil.
func timed[T any](rec *actionSamples, name string, f func() (T, error)) (T, error) {
	start := time.Now()
	v, err := f()
	if rec != nil {
		if err != nil {
			rec.get(name).fail()
		} else {
			rec.get(name).add(time.Since(start))
		}
	}
	return v, err
}

func yesterday() string { return time.Now().AddDate(0, 0, -1).Format("2006-01-02") }

// driveCivicflow runs one centralised-care case from application to
// admission through the HTTP API, as the applicant's relative, the township
// official, the district reviewer and the institution's staff would. rec,
// when not nil, receives the round trip of each request that moves the case.
func (c *apiClient) driveCivicflow(ctx context.Context, n int64, rec *actionSamples) error {
	sub, err := timed(rec, "submit", func() (apiAnswer, error) { return c.submit(ctx, n) })
	if err != nil {
		return err
	}
	ref := sub.body.Reference
	level := careLevels[n%3]
	// The API answers before the workflow records intake (docs/api.md):
	// the official sees the case in the inbox once it has.
	if sub.body.Stage == string(civicflow.StageSubmitted) {
		if _, err := c.waitStage(ctx, c.township, ref, civicflow.StageIntake); err != nil {
			return err
		}
	}
	if _, err := timed(rec, "accept", func() (apiAnswer, error) {
		return c.act(ctx, c.township, ref, "accept", map[string]any{}, civicflow.StageInvestigation)
	}); err != nil {
		return err
	}
	visit := map[string]any{"home_visit": map[string]any{"visited_on": yesterday(), "visitors": []string{"王芳"},
		"findings": "独居卧床，无人照料", "care_level": level, "opinion": "eligible"}}
	if _, err := timed(rec, "record_investigation", func() (apiAnswer, error) {
		return c.act(ctx, c.township, ref, "record_investigation", visit, civicflow.StageInvestigation, civicflow.StagePublicNotice, civicflow.StageDistrictReview)
	}); err != nil {
		return err
	}
	if _, err := c.waitStage(ctx, c.district, ref, civicflow.StageDistrictReview); err != nil {
		return err
	}
	if _, err := timed(rec, "approve", func() (apiAnswer, error) {
		return c.act(ctx, c.district, ref, "approve", map[string]any{}, civicflow.StagePlacement, civicflow.StageAwaitingAdmission)
	}); err != nil {
		return err
	}
	if _, err := c.waitStage(ctx, c.district, ref, civicflow.StageAwaitingAdmission); err != nil {
		return err
	}
	_, err = timed(rec, "confirm_admission", func() (apiAnswer, error) {
		for try := 0; ; try++ {
			r, err := c.act(ctx, c.staff, ref, "confirm_admission", map[string]any{}, civicflow.StageCompleted)
			// The read model may show the bed before the workflow has taken
			// note of the institution; its validator then refuses the staff.
			// Staff would try again; the bench does, and counts it.
			if r.status != http.StatusForbidden || try >= 50 {
				return r, err
			}
			c.confirmRetries.Add(1)
			select {
			case <-ctx.Done():
				return r, err
			case <-time.After(c.poll):
			}
		}
	})
	return err
}

// caseTimeout bounds one case, so a stuck case is an error, not a hang.
const caseTimeout = 3 * time.Minute

// loopResult is the outcome of a closed-loop run.
type loopResult struct {
	Cases   int
	Errors  int
	Elapsed time.Duration
	Latency Latency // one case, start to finish
	errs    []string
}

// closedLoop runs up to n cases with inFlight at a time, starting no new one
// after until (when set); each goroutine starts its next case when the
// previous one ends.
func closedLoop(ctx context.Context, n, inFlight int, until time.Time, run func(ctx context.Context, i int64) error) loopResult {
	var next atomic.Int64
	var lat samples
	var mu sync.Mutex
	var errs []string
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < inFlight; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) || !until.IsZero() && time.Now().After(until) || ctx.Err() != nil {
					return
				}
				t := time.Now()
				cctx, cancel := context.WithTimeout(ctx, caseTimeout)
				err := run(cctx, i)
				cancel()
				if err != nil {
					lat.fail()
					mu.Lock()
					if len(errs) < 5 {
						errs = append(errs, err.Error())
					}
					mu.Unlock()
					continue
				}
				lat.add(time.Since(t))
			}
		}()
	}
	wg.Wait()
	l := lat.summary()
	return loopResult{Cases: l.Count, Errors: l.Errors, Elapsed: time.Since(start), Latency: l, errs: errs}
}
