package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/workflowservice/v1"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"civicflow/workflows"
)

// A workflow task failing — here a bad deploy: a worker whose CentralisedCare
// is an incompatible variant that issues different commands on replay —
// shows in the stuck list with the case and a plain-words cause; once the
// right worker runs again the case leaves the list.
func TestE2EStuckListFindsFailingWorkflowTask(t *testing.T) {
	e := setup(t)
	sv := e.login(t, "sv.yanta")
	c := e.submit(t, application(newIDNumber(t), "610113001", "dependent"), "")
	e.scanAfter(t, time.Now())
	_, entries := e.stuck(t, sv, "kind=workflow_task_failing&limit=1000")
	require.Nil(t, findStuck(entries, c.Ref, "workflow_task_failing"), "the right worker runs the case")

	e.stopWorker()
	restored := false
	t.Cleanup(func() {
		if !restored {
			require.NoError(t, e.startWorker())
		}
	})
	bad := sdkworker.New(e.tc, e.cfg.TaskQueue, sdkworker.Options{})
	// The incompatible variant starts with a timer where the history has the
	// case's first steps: a non-determinism error on every replay.
	bad.RegisterWorkflowWithOptions(func(ctx workflow.Context, in workflows.CentralisedCareInput) (workflows.CaseState, error) {
		err := workflow.Sleep(ctx, time.Hour)
		return workflows.CaseState{}, err
	}, workflow.RegisterOptions{Name: workflows.CentralisedCareWorkflow})
	require.NoError(t, bad.Start())
	badRunning := true
	t.Cleanup(func() {
		if badRunning {
			bad.Stop()
		}
	})
	// The stopped worker may still hold the case on its sticky queue; a task
	// sent there times out first, and Temporal keeps later failures of a
	// retried workflow task out of the history, so the scan would only ever
	// see the timeout. Clear stickiness so the bad worker gets attempt 1.
	_, err := e.tc.WorkflowService().ResetStickyTaskQueue(context.Background(), &workflowservice.ResetStickyTaskQueueRequest{
		Namespace: e.cfg.TemporalNamespace, Execution: &commonpb.WorkflowExecution{WorkflowId: c.workflowID()}})
	require.NoError(t, err)
	// A signal the workflow does not handle gives the bad worker a task.
	require.NoError(t, e.tc.SignalWorkflow(context.Background(), c.workflowID(), "", "civicflow-test-nudge", nil))

	var found map[string]any
	require.Eventually(t, func() bool {
		_, entries := e.stuck(t, sv, "kind=workflow_task_failing&limit=1000")
		found = findStuck(entries, c.Ref, "workflow_task_failing")
		return found != nil && strings.Contains(fmt.Sprint(found["last_error"]), "TMPRL1100")
	}, 60*time.Second, 500*time.Millisecond, "the case shows with its failing workflow task")
	require.Contains(t, found["cause"], "the workflow's code fails on this case")
	require.Contains(t, found["cause"], "non-determinism")
	require.Contains(t, found["last_error"], "TMPRL1100", "the SDK's non-determinism error")
	require.GreaterOrEqual(t, found["attempt"], float64(2))

	// Restore the right worker: the task succeeds and the case leaves the list.
	bad.Stop()
	badRunning = false
	require.NoError(t, e.startWorker())
	restored = true
	require.NoError(t, e.tc.SignalWorkflow(context.Background(), c.workflowID(), "", "civicflow-test-nudge", nil))
	require.Eventually(t, func() bool {
		_, entries := e.stuck(t, sv, "kind=workflow_task_failing&limit=1000")
		return findStuck(entries, c.Ref, "workflow_task_failing") == nil
	}, 60*time.Second, 500*time.Millisecond, "the case leaves the list once the right worker runs")
}
