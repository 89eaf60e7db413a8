package workflows

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// versionedCare stands for a change of CentralisedCare made the safe way
// (docs/workflows.md): the new step — here a timer before anything else —
// is guarded by workflow.GetVersion, so cases that started before the
// change take the old path when they replay, and new cases record the
// version marker and take the new one.
func versionedCare(ctx workflow.Context, in CentralisedCareInput) (CaseState, error) {
	if v := workflow.GetVersion(ctx, "test-pause-before-intake", workflow.DefaultVersion, 1); v == 1 {
		if err := workflow.Sleep(ctx, time.Minute); err != nil {
			return CaseState{}, err
		}
	}
	return CentralisedCare(ctx, in)
}

// TestReplayAcceptsVersionedChange replays every saved CentralisedCare
// history against the GetVersion-guarded change registered under the same
// workflow type: all replay. The same change without the guard
// (incompatibleCare) breaks every one of them.
func TestReplayAcceptsVersionedChange(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "histories", "centralised_care*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no saved CentralisedCare histories: run make histories")
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			guarded := worker.NewWorkflowReplayer()
			guarded.RegisterWorkflowWithOptions(versionedCare, workflowOptions(CentralisedCareWorkflow))
			require.NoError(t, guarded.ReplayWorkflowHistoryFromJSONFile(nil, f), "a GetVersion-guarded change replays old histories")

			unguarded := worker.NewWorkflowReplayer()
			unguarded.RegisterWorkflowWithOptions(incompatibleCare, workflowOptions(CentralisedCareWorkflow))
			require.Error(t, unguarded.ReplayWorkflowHistoryFromJSONFile(nil, f), "the same change without GetVersion breaks running cases")
		})
	}
}
