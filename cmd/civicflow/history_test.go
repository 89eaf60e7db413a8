package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/proxy"
	"google.golang.org/protobuf/encoding/protojson"

	"civicflow/codec"
)

// saveHistory writes a workflow's history to workflows/testdata/histories
// when CIVICFLOW_SAVE_HISTORIES is set, for the replay tests in package
// workflows. Run `make histories` after changing a workflow on purpose.
func saveHistory(t *testing.T, e *e2eSystem, workflowID, name string) {
	t.Helper()
	saveHistoryRun(t, e, workflowID, "", name)
}

// saveHistoryRun is saveHistory for one run ("": the latest) of a workflow
// that continued as new.
func saveHistoryRun(t *testing.T, e *e2eSystem, workflowID, runID, name string) {
	t.Helper()
	if os.Getenv("CIVICFLOW_SAVE_HISTORIES") == "" {
		return
	}
	it := e.tc.GetWorkflowHistory(context.Background(), workflowID, runID, false, 0)
	var h historypb.History
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		h.Events = append(h.Events, ev)
	}
	// The replay tests use the SDK's plain converter: save the payloads as
	// the codec opens them, not sealed under this run's throw-away key.
	require.NoError(t, decodeHistory(e.cfg, &h))
	b, err := protojson.MarshalOptions{Indent: "  "}.Marshal(&h)
	require.NoError(t, err)
	dir := filepath.Join("..", "..", "workflows", "testdata", "histories")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+".json"), b, 0o644))
}

// decodeHistory opens every sealed payload of h in place (search
// attributes are never sealed).
func decodeHistory(cfg config, h *historypb.History) error {
	keys, err := cfg.keyring()
	if err != nil {
		return err
	}
	cdc, err := codec.New(keys)
	if err != nil {
		return err
	}
	return proxy.VisitPayloads(context.Background(), h, proxy.VisitPayloadsOptions{
		SkipSearchAttributes: true,
		Visitor: func(_ *proxy.VisitPayloadsContext, ps []*commonpb.Payload) ([]*commonpb.Payload, error) {
			return cdc.Decode(ps)
		},
	})
}
