package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"

	"civicflow"
	"civicflow/workflows"
)

// With CIVICFLOW_TEMPORAL_STAGE_SEARCH_ATTRIBUTES on, an API starts cases
// whose workflows keep CivicflowStage and CivicflowStageDue current, so
// operators find them in Temporal by stage and due date; with it off (the
// suite's API, the default) the same workflows write neither.
func TestE2EStageSearchAttributes(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	cfg := e.cfg
	cfg.TemporalStageAttrs = true
	on := httptest.NewServer(newAPI(cfg, e.tc, e.db, slog.New(slog.NewTextHandler(io.Discard, nil))).Handler())
	defer on.Close()
	post := func(path string, headers map[string]string, v any) response {
		return postJSONAt(t, on.URL, path, headers, v)
	}
	r := post("/api/v1/auth/login", nil, map[string]string{"username": "ts.xiaozhai", "password": testPassword})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))
	ts := map[string]string{"Authorization": "Bearer " + r.str("token")}

	r = post("/api/v1/applications", nil, application(newIDNumber(t), "610113001", "dependent"))
	require.Equal(t, http.StatusCreated, r.Status, string(r.Raw))
	id := int64(r.Body["case_id"].(float64))
	ref := r.str("reference")
	e.waitStage(t, id, civicflow.StageIntake, time.Minute)
	r = post("/api/v1/cases/"+ref+"/actions/accept", ts, map[string]any{})
	require.Equal(t, http.StatusOK, r.Status, string(r.Raw))

	wid := civicflow.CaseWorkflowID(id)
	require.Eventually(t, func() bool {
		resp, err := e.tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: e.cfg.TemporalNamespace,
			Query: fmt.Sprintf("WorkflowId = '%s' AND CivicflowStage = 'investigation' AND CivicflowStageDue > '%s'",
				wid, time.Now().UTC().Format(time.RFC3339))})
		return err == nil && len(resp.GetExecutions()) == 1
	}, 20*time.Second, 200*time.Millisecond, "found by stage and due date")

	// The suite's API leaves them off: the workflow never writes them.
	c := e.submit(t, application(newIDNumber(t), "610113001", "dependent"), "")
	e.mustAct(t, ts, c.Ref, "accept", map[string]any{}, "investigation")
	d, err := e.tc.DescribeWorkflow(ctx, civicflow.CaseWorkflowID(c.ID), "")
	require.NoError(t, err)
	fields := d.RawResponse.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()
	require.Contains(t, fields, workflows.AttrDistrict.GetName())
	require.NotContains(t, fields, workflows.AttrStage.GetName())
	require.NotContains(t, fields, workflows.AttrStageDue.GetName())
}
