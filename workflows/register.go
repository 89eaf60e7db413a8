package workflows

import (
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"civicflow/activities"
)

// Names of the workflow types. They are fixed explicitly so that renaming a
// Go function never breaks running cases.
const (
	CentralisedCareWorkflow = "CentralisedCare"
	DepartureWorkflow       = "Departure"
	CommunityRehabWorkflow  = "CommunityRehab"
	EducationGrantWorkflow  = "EducationGrant"
	// The register's processes (register_cases.go).
	SupportTransferWorkflow    = "SupportTransfer"
	SupportTerminationWorkflow = "SupportTermination"
	CampaignWorkflow           = "Campaign"
)

// Register adds civicflow's workflows and the activities behind them to w.
func Register(w worker.Registry, acts *activities.Activities) {
	w.RegisterWorkflowWithOptions(CentralisedCare, workflowOptions(CentralisedCareWorkflow))
	w.RegisterWorkflowWithOptions(Departure, workflowOptions(DepartureWorkflow))
	w.RegisterWorkflowWithOptions(CommunityRehab, workflowOptions(CommunityRehabWorkflow))
	w.RegisterWorkflowWithOptions(EducationGrant, workflowOptions(EducationGrantWorkflow))
	w.RegisterWorkflowWithOptions(SupportTransfer, workflowOptions(SupportTransferWorkflow))
	w.RegisterWorkflowWithOptions(SupportTermination, workflowOptions(SupportTerminationWorkflow))
	w.RegisterWorkflowWithOptions(Notify, workflowOptions(NotifyWorkflow))
	w.RegisterWorkflowWithOptions(Campaign, workflowOptions(CampaignWorkflow))
	w.RegisterActivity(acts)
}

func workflowOptions(name string) workflow.RegisterOptions {
	return workflow.RegisterOptions{Name: name}
}
