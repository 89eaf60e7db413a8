package workflows

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/worker"
)

// TestReplaySavedHistories replays histories recorded from real runs (see
// `make histories`) against the current workflow code. A change that alters
// the commands a workflow issues for an old history fails here: guard such
// changes with workflow.GetVersion (docs/workflows.md).
func TestReplaySavedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "histories", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no saved histories: run make histories")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflowWithOptions(CentralisedCare, workflowOptions(CentralisedCareWorkflow))
			r.RegisterWorkflowWithOptions(Departure, workflowOptions(DepartureWorkflow))
			r.RegisterWorkflowWithOptions(Notify, workflowOptions(NotifyWorkflow))
			r.RegisterWorkflowWithOptions(CommunityRehab, workflowOptions(CommunityRehabWorkflow))
			r.RegisterWorkflowWithOptions(EducationGrant, workflowOptions(EducationGrantWorkflow))
			r.RegisterWorkflowWithOptions(SupportTransfer, workflowOptions(SupportTransferWorkflow))
			r.RegisterWorkflowWithOptions(SupportTermination, workflowOptions(SupportTerminationWorkflow))
			r.RegisterWorkflowWithOptions(Campaign, workflowOptions(CampaignWorkflow))
			require.NoError(t, r.ReplayWorkflowHistoryFromJSONFile(nil, f))
		})
	}
}

// TestReplayDetectsIncompatibleChange proves the replay test can fail: a
// workflow that issues different commands than the recorded one is refused.
func TestReplayDetectsIncompatibleChange(t *testing.T) {
	f := filepath.Join("testdata", "histories", "centralised_care_admitted.json")
	if _, err := os.Stat(f); err != nil {
		t.Fatalf("saved history missing: %v", err)
	}
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(incompatibleCare, workflowOptions(CentralisedCareWorkflow))
	require.Error(t, r.ReplayWorkflowHistoryFromJSONFile(nil, f))
}
