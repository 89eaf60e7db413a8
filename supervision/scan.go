// Package supervision finds technically stuck cases (issue 4): what no
// deadline shows. A background scan asks Temporal about the task queue and
// about open cases and stores what it finds in PostgreSQL (migration 006);
// the supervisors' stuck list reads that table, so a request costs one
// index scan, not a round trip to Temporal per case.
//
// The scan runs in the API processes, not only in the worker: a task queue
// that no worker polls must be found when every worker is down. One
// process scans at a time (a PostgreSQL advisory lock), at most once per
// Interval across all of them. See docs/deadlines.md.
package supervision

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"civicflow"
	"civicflow/postgres"
	"civicflow/workflows"
)

// Defaults of Scanner's settings.
const (
	DefaultInterval      = time.Minute
	DefaultQuietFor      = 10 * time.Minute
	DefaultPollerSilence = 2 * time.Minute
	DefaultBatch         = 5000
	DefaultParallel      = 16
	DefaultRetention     = 30 * 24 * time.Hour
)

// Scanner is the background stuck scan.
type Scanner struct {
	Store     *postgres.DB
	Temporal  client.Client
	TaskQueue string
	// Interval between runs, across all processes (default 1m).
	Interval time.Duration
	// QuietFor: the sweep looks at open cases whose read model has not
	// changed for this long (cmd sets 10m; 0 = every open case); cases that
	// move are not stuck, and right after a step the read model may lag
	// its workflow.
	QuietFor time.Duration
	// PollerSilence: a task queue without a poll for this long has no
	// worker (default 2m; an idle worker's long poll lasts up to a minute).
	PollerSilence time.Duration
	// Batch bounds the cases one run asks Temporal about (default 5000):
	// the cases with open findings first, then the next quiet open cases
	// of the sweep, which walks all of them over successive runs.
	Batch int
	// Parallel is how many cases are asked about at once (default 16).
	Parallel int
	// Retention: resolved findings and old runs are deleted after this
	// long (default 30 days).
	Retention time.Duration
	Log       *slog.Logger
}

func (s *Scanner) defaults() Scanner {
	c := *s
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.PollerSilence <= 0 {
		c.PollerSilence = DefaultPollerSilence
	}
	if c.Batch <= 0 {
		c.Batch = DefaultBatch
	}
	if c.Parallel <= 0 {
		c.Parallel = DefaultParallel
	}
	if c.Retention <= 0 {
		c.Retention = DefaultRetention
	}
	if c.TaskQueue == "" {
		c.TaskQueue = workflows.TaskQueue
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return c
}

// Run scans every Interval until ctx ends. Each process runs one; the
// advisory lock and the time of the last run keep them from scanning
// together or more often than Interval.
func (s *Scanner) Run(ctx context.Context) {
	c := s.defaults()
	// Look more often than Interval so that when the process that scanned
	// last goes away, another takes over within about one interval.
	t := time.NewTicker(max(c.Interval/4, 100*time.Millisecond))
	defer t.Stop()
	for {
		if _, err := s.Once(ctx, false); err != nil && ctx.Err() == nil {
			c.Log.Warn("stuck scan", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Once runs one scan unless another process holds the lock or, when force
// is false, a run started less than Interval ago. It returns the run, or
// nil when it did not scan.
func (s *Scanner) Once(ctx context.Context, force bool) (*postgres.ScanRun, error) {
	c := s.defaults()
	due := func() (bool, error) {
		ago, ok, err := c.Store.SinceLastScan(ctx)
		return !ok || ago >= c.Interval, err
	}
	if !force {
		// Most looks end here, without taking a connection for the lock.
		if ok, err := due(); err != nil || !ok {
			return nil, err
		}
	}
	var run *postgres.ScanRun
	_, err := c.Store.WithScanLock(ctx, func(ctx context.Context) error {
		if !force {
			// Again under the lock: another process may just have scanned.
			if ok, err := due(); err != nil || !ok {
				return err
			}
		}
		r, err := c.Store.StartScanRun(ctx, scannerName())
		if err != nil {
			return err
		}
		runErr := c.scan(ctx, &r)
		// The run's record is written even when ctx ended (shutdown).
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := c.Store.FinishScanRun(fctx, r, runErr, c.Retention); err != nil {
			return errors.Join(runErr, err)
		}
		if runErr == nil {
			c.Log.Debug("stuck scan", "run", r.ID, "checked", r.CheckedCases, "new", r.NewFindings, "resolved", r.Resolved)
		}
		run = &r
		return runErr
	})
	return run, err
}

func scannerName() string {
	h, _ := os.Hostname()
	return fmt.Sprintf("%s/%d", h, os.Getpid())
}

// scan does one run's work, recording findings batch by batch so that a
// run cut short keeps what it found.
func (c *Scanner) scan(ctx context.Context, run *postgres.ScanRun) error {
	now := time.Now()
	noWorker, err := c.checkQueues(ctx, run, now)
	if err != nil {
		return err
	}
	recheck, err := c.Store.RecheckCases(ctx, c.Batch)
	if err != nil {
		return err
	}
	seen := make(map[int64]bool, len(recheck))
	for _, oc := range recheck {
		seen[oc.ID] = true
	}
	var sweep []postgres.OpenCase
	if room := c.Batch - len(recheck); room > 0 {
		sweep, err = c.Store.SweepCases(ctx, now.Add(-c.QuietFor), run.SweepAfterUpdatedAt, run.SweepAfterID, room)
		if err != nil {
			return err
		}
		// Where the next run's sweep continues: after the last case listed,
		// or from the start once the sweep reached the end. (With no room
		// left by re-checks, the key stays where it was.)
		run.SweepAfterUpdatedAt, run.SweepAfterID = nil, 0
		if n := len(sweep); n == room {
			run.SweepAfterUpdatedAt, run.SweepAfterID = &sweep[n-1].UpdatedAt, sweep[n-1].ID
		}
	}
	cases := recheck
	for _, oc := range sweep {
		if !seen[oc.ID] {
			cases = append(cases, oc)
		}
	}
	run.RecheckedCases = len(recheck)
	const chunk = 200
	for i := 0; i < len(cases); i += chunk {
		part := cases[i:min(i+chunk, len(cases))]
		found, checked := c.diagnoseAll(ctx, part, now, noWorker)
		if err := ctx.Err(); err != nil {
			return err
		}
		added, resolved, err := c.Store.RecordFindings(ctx, *run, checked, found)
		if err != nil {
			return err
		}
		run.CheckedCases += len(checked)
		run.NewFindings += added
		run.Resolved += resolved
	}
	return nil
}

// checkQueues asks whether workers poll the workflow and activity tasks of
// the task queue, records a finding per kind of task nobody polls, and
// returns that cause ("" when workers poll both).
func (c *Scanner) checkQueues(ctx context.Context, run *postgres.ScanRun, now time.Time) (string, error) {
	queues, err := DescribeQueues(ctx, c.Temporal, c.TaskQueue, c.PollerSilence, now)
	if err != nil {
		return "", err
	}
	run.TaskQueues = queues
	var found []postgres.StuckFinding
	noWorker := ""
	for _, q := range queues {
		if q.Polled {
			continue
		}
		found = append(found, postgres.StuckFinding{Kind: postgres.StuckNoWorker, Subject: q.Kind, Cause: q.Cause, Since: q.LastPoll})
		if noWorker == "" {
			noWorker = q.Cause
		}
	}
	added, resolved, err := c.Store.RecordQueueFindings(ctx, *run, c.TaskQueue, found)
	run.NewFindings += added
	run.Resolved += resolved
	return noWorker, err
}

// DescribeQueues tells for the workflow and the activity tasks of the task
// queue whether a worker polled within silence. It is cheap (two calls),
// so the stuck list also asks it live.
func DescribeQueues(ctx context.Context, tc client.Client, queue string, silence time.Duration, now time.Time) ([]postgres.QueueState, error) {
	var out []postgres.QueueState
	for _, kind := range []enumspb.TaskQueueType{enumspb.TASK_QUEUE_TYPE_WORKFLOW, enumspb.TASK_QUEUE_TYPE_ACTIVITY} {
		q := postgres.QueueState{TaskQueue: queue, Kind: "workflow"}
		if kind == enumspb.TASK_QUEUE_TYPE_ACTIVITY {
			q.Kind = "activity"
		}
		resp, err := tc.DescribeTaskQueue(ctx, queue, kind)
		if err != nil {
			return nil, fmt.Errorf("describe task queue %s: %w", queue, err)
		}
		for _, p := range resp.GetPollers() {
			t := p.GetLastAccessTime().AsTime()
			if q.LastPoll == nil || t.After(*q.LastPoll) {
				q.LastPoll = &t
			}
		}
		q.Pollers = len(resp.GetPollers())
		q.Polled = q.LastPoll != nil && now.Sub(*q.LastPoll) <= silence
		if !q.Polled {
			q.Cause = fmt.Sprintf("no worker is polling the %s tasks of task queue %q", q.Kind, queue)
			if q.LastPoll != nil {
				q.Cause += fmt.Sprintf(" (last poll %s ago)", now.Sub(*q.LastPoll).Round(time.Second))
			}
			q.Cause += ": no case can move until a worker runs"
		}
		out = append(out, q)
	}
	return out, nil
}

// diagnoseAll asks about the cases, Parallel at a time, and returns what
// it found and which cases it could check (a case Temporal did not answer
// about keeps its findings until a later run can).
func (c *Scanner) diagnoseAll(ctx context.Context, cases []postgres.OpenCase, now time.Time, noWorker string) ([]postgres.StuckFinding, []int64) {
	found := make([][]postgres.StuckFinding, len(cases))
	ok := make([]bool, len(cases))
	sem := make(chan struct{}, c.Parallel)
	var wg sync.WaitGroup
	for i, oc := range cases {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			var err error
			found[i], err = c.diagnose(ctx, oc, now, noWorker)
			ok[i] = err == nil
			if err != nil && ctx.Err() == nil {
				c.Log.Debug("stuck scan: case not checked", "case_id", oc.ID, "err", err)
			}
		}()
	}
	wg.Wait()
	var all []postgres.StuckFinding
	var checked []int64
	for i, oc := range cases {
		if ok[i] {
			checked = append(checked, oc.ID)
			all = append(all, found[i]...)
		}
	}
	return all, checked
}

// diagnose finds what keeps one case from moving, if anything.
func (c *Scanner) diagnose(ctx context.Context, oc postgres.OpenCase, now time.Time, noWorker string) ([]postgres.StuckFinding, error) {
	if oc.Stage.Terminal() {
		return nil, nil // closed since its finding: nothing to find
	}
	finding := func(kind, cause string) postgres.StuckFinding {
		return postgres.StuckFinding{Kind: kind, Cause: cause, TaskQueue: c.TaskQueue}.ForCase(oc)
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	d, err := c.Temporal.DescribeWorkflow(dctx, oc.WorkflowID, "")
	var desc *workflowservice.DescribeWorkflowExecutionResponse
	if err == nil {
		desc = d.RawResponse
	}
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		f := finding(postgres.StuckWorkflowMissing, "the case is open in the read model but Temporal has no workflow for it")
		if oc.Stage == civicflow.StageSubmitted {
			f.Cause = "the application was recorded but its workflow never started"
		}
		return []postgres.StuckFinding{f}, nil
	}
	if err != nil {
		return nil, err
	}
	info := desc.GetWorkflowExecutionInfo()
	if info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		f := finding(postgres.StuckWorkflowEnded,
			fmt.Sprintf("the workflow ended (%s) but the case is still open in stage %s", info.GetStatus(), oc.Stage))
		if t := info.GetCloseTime(); t != nil {
			at := t.AsTime()
			f.Since = &at
		}
		return []postgres.StuckFinding{f}, nil
	}
	var out []postgres.StuckFinding
	wt := desc.GetPendingWorkflowTask()
	if noWorker != "" {
		// The case is held up when its next step waits in the queue.
		var waiting *time.Time
		if wt != nil && wt.GetState() == enumspb.PENDING_WORKFLOW_TASK_STATE_SCHEDULED {
			t := wt.GetScheduledTime().AsTime()
			waiting = &t
		}
		for _, pa := range desc.GetPendingActivities() {
			if pa.GetState() == enumspb.PENDING_ACTIVITY_STATE_SCHEDULED && waiting == nil {
				t := pa.GetScheduledTime().AsTime()
				waiting = &t
			}
		}
		if waiting != nil {
			f := finding(postgres.StuckNoWorker, fmt.Sprintf("the case's next step has waited %s for a worker: %s",
				now.Sub(*waiting).Round(time.Second), noWorker))
			f.Since = waiting
			out = append(out, f)
		}
	}
	for _, pa := range desc.GetPendingActivities() {
		if pa.GetAttempt() < 2 {
			continue
		}
		f := finding(postgres.StuckActivityRetrying, "")
		f.Subject, f.Activity, f.Attempt = pa.GetActivityId(), pa.GetActivityType().GetName(), pa.GetAttempt()
		if f.Since, err = c.activityScheduled(ctx, oc.WorkflowID, pa); err != nil {
			return nil, err // not checked: a later run reads the history again
		}
		f.LastError = clip(pa.GetLastFailure().GetMessage(), 1000)
		over := ""
		if f.Since != nil {
			over = " over " + now.Sub(*f.Since).Round(time.Second).String()
		}
		f.Cause = fmt.Sprintf("step %s has failed %d times%s and is still being retried; last error: %s",
			f.Activity, pa.GetAttempt()-1, over, f.LastError)
		out = append(out, f)
	}
	if wt != nil && wt.GetAttempt() > 1 {
		f := finding(postgres.StuckWorkflowTaskFails, "")
		t := wt.GetOriginalScheduledTime().AsTime()
		f.Attempt, f.Since = wt.GetAttempt(), &t
		msg, timedOut, err := c.lastWorkflowTaskProblem(ctx, oc.WorkflowID)
		if err != nil {
			return nil, err // not checked: a later run reads the history again
		}
		f.LastError = msg
		if timedOut {
			f.Cause = fmt.Sprintf("the workflow task timed out (attempt %d): the worker took too long or went away", wt.GetAttempt())
		} else {
			f.Cause = fmt.Sprintf("the workflow's code fails on this case (attempt %d); after a deploy this is usually a "+
				"change that is not compatible with running cases (non-determinism)", wt.GetAttempt())
		}
		if f.LastError != "" {
			f.Cause += "; last error: " + f.LastError
		}
		out = append(out, f)
	}
	if len(out) > 0 || len(desc.GetPendingActivities()) > 0 || wt != nil {
		return out, nil // the read model is expected to lag while a step is pending
	}
	qctx, qcancel := context.WithTimeout(ctx, 5*time.Second)
	defer qcancel()
	v, err := c.Temporal.QueryWorkflow(qctx, oc.WorkflowID, "", workflows.QueryState)
	if err != nil {
		return nil, err // a query can fail for passing reasons; a later run asks again
	}
	var st workflows.CaseState
	if err := v.Get(&st); err != nil {
		return nil, err
	}
	if st.Stage == oc.Stage && st.Seq == oc.Seq {
		return nil, nil
	}
	// The row may have moved on since the batch was read: confirm.
	cur, err := c.Store.CaseNow(ctx, oc.ID)
	if err != nil {
		return nil, err
	}
	if st.Stage == cur.Stage && st.Seq == cur.Seq {
		return nil, nil
	}
	f := finding(postgres.StuckReadModelBehind, fmt.Sprintf("the workflow is in stage %s at step %d, but the case list shows "+
		"stage %s at step %d and nothing is pending to bring it up to date", st.Stage, st.Seq, cur.Stage, cur.Seq))
	return []postgres.StuckFinding{f.ForCase(cur)}, nil
}

// activityScheduled finds when a pending activity was first scheduled (its
// ActivityTaskScheduled event); retries keep that event.
func (c *Scanner) activityScheduled(ctx context.Context, workflowID string, pa *workflowpb.PendingActivityInfo) (*time.Time, error) {
	it := c.Temporal.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var at *time.Time
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("read history of %s: %w", workflowID, err)
		}
		if attrs := ev.GetActivityTaskScheduledEventAttributes(); attrs != nil && attrs.GetActivityId() == pa.GetActivityId() {
			t := ev.GetEventTime().AsTime()
			at = &t
		}
	}
	return at, nil
}

// lastWorkflowTaskProblem reads the history for the workflow's last
// failed or timed-out workflow task: the failure's message, or which
// timeout (a task that went to a worker that is gone times out first).
func (c *Scanner) lastWorkflowTaskProblem(ctx context.Context, workflowID string) (msg string, timedOut bool, err error) {
	it := c.Temporal.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return "", false, fmt.Errorf("read history of %s: %w", workflowID, err)
		}
		if attrs := ev.GetWorkflowTaskFailedEventAttributes(); attrs != nil {
			msg, timedOut = attrs.GetFailure().GetMessage(), false
		}
		if attrs := ev.GetWorkflowTaskTimedOutEventAttributes(); attrs != nil {
			msg, timedOut = "workflow task timed out ("+strings.ToLower(strings.TrimPrefix(attrs.GetTimeoutType().String(), "TIMEOUT_TYPE_"))+")", true
		}
	}
	return clip(msg, 1000), timedOut, nil
}

// clip shortens s to at most n runes.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}
