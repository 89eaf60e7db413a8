package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"

	"civicflow"
	"civicflow/postgres"
	"civicflow/workflows"
)

// Technically stuck cases (issue 4): what no deadline shows. The scan
// looks at the task queue (is any worker polling?) and at the open cases
// whose read model has not changed for quiet_for, least recently changed
// first, up to limit: for each it asks Temporal about the workflow (a
// pending activity retrying, a workflow task failing, the workflow gone)
// and, when nothing else explains the silence, compares the workflow's
// state query with the read model. See docs/deadlines.md.

// Kinds of stuck conditions.
const (
	StuckNoWorker          = "no_worker"
	StuckActivityRetrying  = "activity_retrying"
	StuckWorkflowTaskFails = "workflow_task_failing"
	StuckWorkflowMissing   = "workflow_missing"
	StuckWorkflowEnded     = "workflow_ended"
	StuckReadModelBehind   = "read_model_disagrees"
)

// stuckParallel is how many quiet cases the stuck scan asks Temporal about
// at once.
const stuckParallel = 16

// stuckCase is one stuck condition of one case, with its cause in plain words.
type stuckCase struct {
	Kind       string          `json:"kind"`
	Cause      string          `json:"cause"`
	Reference  string          `json:"reference"`
	CaseID     int64           `json:"case_id"`
	Stage      civicflow.Stage `json:"stage"`
	WorkflowID string          `json:"workflow_id"`
	Activity   string          `json:"activity,omitempty"`
	Attempt    int32           `json:"attempt,omitempty"`
	LastError  string          `json:"last_error,omitempty"`
	Since      *time.Time      `json:"since,omitempty"`
}

// queueState says whether workers poll one kind of task of the queue.
type queueState struct {
	TaskQueue string     `json:"task_queue"`
	Kind      string     `json:"kind"` // workflow or activity
	Pollers   int        `json:"pollers"`
	LastPoll  *time.Time `json:"last_poll,omitempty"`
	Polled    bool       `json:"polled"`
	Cause     string     `json:"cause,omitempty"`
}

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

func (s *Server) listStuck(c echo.Context) error {
	district, err := supervisorDistrict(c)
	if err != nil {
		return err
	}
	retryingFor, err := durationParam(c, "retrying_for", 10*time.Minute)
	if err != nil {
		return err
	}
	quietFor, err := durationParam(c, "quiet_for", retryingFor)
	if err != nil {
		return err
	}
	pollerSilence, err := durationParam(c, "poller_silence", 2*time.Minute)
	if err != nil {
		return err
	}
	limit := 200
	if v := c.QueryParam("limit"); v != "" {
		if _, err := fmt.Sscanf(v, "%d", &limit); err != nil || limit < 1 || limit > 1000 {
			return civicflow.Invalid(civicflow.FieldError{Field: "limit", Reason: "must be a whole number from 1 to 1000"})
		}
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), 25*time.Second)
	defer cancel()
	now := time.Now()

	queues := []queueState{}
	noWorker := ""
	for _, kind := range []enumspb.TaskQueueType{enumspb.TASK_QUEUE_TYPE_WORKFLOW, enumspb.TASK_QUEUE_TYPE_ACTIVITY} {
		q := queueState{TaskQueue: s.cfg.TaskQueue, Kind: "workflow"}
		if kind == enumspb.TASK_QUEUE_TYPE_ACTIVITY {
			q.Kind = "activity"
		}
		resp, err := s.temporal.DescribeTaskQueue(ctx, s.cfg.TaskQueue, kind)
		if err != nil {
			return civicflow.Errorf(civicflow.EUNAVAILABLE, "Temporal did not answer; try again")
		}
		for _, p := range resp.GetPollers() {
			t := p.GetLastAccessTime().AsTime()
			if q.LastPoll == nil || t.After(*q.LastPoll) {
				q.LastPoll = &t
			}
		}
		q.Pollers = len(resp.GetPollers())
		q.Polled = q.LastPoll != nil && now.Sub(*q.LastPoll) <= pollerSilence
		if !q.Polled {
			q.Cause = fmt.Sprintf("no worker is polling the %s tasks of task queue %q", q.Kind, s.cfg.TaskQueue)
			if q.LastPoll != nil {
				q.Cause += fmt.Sprintf(" (last poll %s ago)", now.Sub(*q.LastPoll).Round(time.Second))
			}
			q.Cause += ": no case can move until a worker runs"
			if noWorker == "" {
				noWorker = q.Cause
			}
		}
		queues = append(queues, q)
	}

	cases, err := s.store.QuietCases(ctx, district, now.Add(-quietFor), limit)
	if err != nil {
		return err
	}
	// Each candidate costs Temporal round trips; up to stuckParallel of them
	// are asked at once (docs/performance.md), the answer keeps their order.
	found := make([][]stuckCase, len(cases))
	errs := make([]error, len(cases))
	sem := make(chan struct{}, stuckParallel)
	var wg sync.WaitGroup
	for i, oc := range cases {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			found[i], errs[i] = s.diagnose(ctx, oc, now, retryingFor, noWorker)
		}()
	}
	wg.Wait()
	stuck := []stuckCase{}
	for i := range cases {
		if errs[i] != nil {
			return errs[i]
		}
		stuck = append(stuck, found[i]...)
	}
	return c.JSON(http.StatusOK, map[string]any{"as_of": now, "checked_cases": len(cases), "task_queues": queues, "stuck": stuck})
}

// diagnose finds what keeps one quiet case from moving, if anything.
func (s *Server) diagnose(ctx context.Context, oc postgres.OpenCase, now time.Time, retryingFor time.Duration, noWorker string) ([]stuckCase, error) {
	base := stuckCase{Reference: oc.Reference, CaseID: oc.ID, Stage: oc.Stage, WorkflowID: oc.WorkflowID}
	desc, err := s.temporal.DescribeWorkflowExecution(ctx, oc.WorkflowID, "")
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		b := base
		b.Kind = StuckWorkflowMissing
		b.Cause = "the case is open in the read model but Temporal has no workflow for it"
		if oc.Stage == civicflow.StageSubmitted {
			b.Cause = "the application was recorded but its workflow never started"
		}
		return []stuckCase{b}, nil
	}
	if err != nil {
		return nil, civicflow.Errorf(civicflow.EUNAVAILABLE, "Temporal did not answer; try again")
	}
	info := desc.GetWorkflowExecutionInfo()
	if info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		b := base
		b.Kind = StuckWorkflowEnded
		b.Cause = fmt.Sprintf("the workflow ended (%s) but the case is still open in stage %s", info.GetStatus(), oc.Stage)
		return []stuckCase{b}, nil
	}
	var out []stuckCase
	if noWorker != "" {
		b := base
		b.Kind, b.Cause = StuckNoWorker, noWorker
		out = append(out, b)
	}
	for _, pa := range desc.GetPendingActivities() {
		if pa.GetAttempt() < 2 {
			continue
		}
		since := s.activityScheduled(ctx, oc.WorkflowID, pa)
		if since == nil || now.Sub(*since) < retryingFor {
			continue
		}
		b := base
		b.Kind, b.Activity, b.Attempt, b.Since = StuckActivityRetrying, pa.GetActivityType().GetName(), pa.GetAttempt(), since
		b.LastError = pa.GetLastFailure().GetMessage()
		b.Cause = fmt.Sprintf("step %s has failed %d times over %s and is still being retried; last error: %s",
			b.Activity, pa.GetAttempt()-1, now.Sub(*since).Round(time.Second), b.LastError)
		out = append(out, b)
	}
	if wt := desc.GetPendingWorkflowTask(); wt != nil && wt.GetAttempt() > 1 {
		b := base
		t := wt.GetOriginalScheduledTime().AsTime()
		b.Kind, b.Attempt, b.Since = StuckWorkflowTaskFails, wt.GetAttempt(), &t
		b.LastError = s.lastWorkflowTaskFailure(ctx, oc.WorkflowID)
		b.Cause = fmt.Sprintf("the workflow's code fails on this case (attempt %d); after a deploy this is usually a "+
			"change that is not compatible with running cases (non-determinism)", wt.GetAttempt())
		if b.LastError != "" {
			b.Cause += "; last error: " + b.LastError
		}
		out = append(out, b)
	}
	if len(out) > 0 || len(desc.GetPendingActivities()) > 0 {
		return out, nil // the read model is expected to lag while a step is pending
	}
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	v, err := s.temporal.QueryWorkflow(qctx, oc.WorkflowID, "", workflows.QueryState)
	if err != nil {
		return nil, nil // a query can fail for many passing reasons; the next scan sees it again
	}
	var st workflows.CaseState
	if err := v.Get(&st); err != nil {
		return nil, nil
	}
	if st.Stage != oc.Stage || st.Seq != oc.Seq {
		b := base
		b.Kind = StuckReadModelBehind
		b.Cause = fmt.Sprintf("the workflow is in stage %s at step %d, but the case list shows stage %s at step %d "+
			"and nothing is pending to bring it up to date", st.Stage, st.Seq, oc.Stage, oc.Seq)
		out = append(out, b)
	}
	return out, nil
}

// activityScheduled finds when a pending activity was first scheduled (its
// ActivityTaskScheduled event); retries keep that event.
func (s *Server) activityScheduled(ctx context.Context, workflowID string, pa *workflowpb.PendingActivityInfo) *time.Time {
	it := s.temporal.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var at *time.Time
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return at
		}
		if attrs := ev.GetActivityTaskScheduledEventAttributes(); attrs != nil && attrs.GetActivityId() == pa.GetActivityId() {
			t := ev.GetEventTime().AsTime()
			at = &t
		}
	}
	return at
}

// lastWorkflowTaskFailure returns the message of the workflow's last
// WorkflowTaskFailed event.
func (s *Server) lastWorkflowTaskFailure(ctx context.Context, workflowID string) string {
	it := s.temporal.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	msg := ""
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return msg
		}
		if attrs := ev.GetWorkflowTaskFailedEventAttributes(); attrs != nil {
			msg = attrs.GetFailure().GetMessage()
		}
	}
	return clip(msg, 500)
}
