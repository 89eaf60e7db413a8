package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"civicflow"
	"civicflow/activities"
)

// Departure records that a resident left an institution: it frees the bed,
// gives it to the first wait-listed case of the same care level and wakes
// that case's workflow. The workflow ID is derived from the allocation, so a
// repeated request does nothing new.
func Departure(ctx workflow.Context, in DepartureInput) (civicflow.Departure, error) {
	ctx = workflow.WithActivityOptions(ctx, recordOptions)
	var d civicflow.Departure
	err := workflow.ExecuteActivity(ctx, a.ReleaseBed, activities.ReleaseInput{
		AllocationID: in.AllocationID,
		Transition: civicflow.Transition{
			Key: fmt.Sprintf("departure-%d", in.AllocationID), Action: civicflow.ActionRecordDeparture,
			From: civicflow.StageCompleted, To: civicflow.StageDeparted, Actor: in.Actor, Reasons: in.Reasons,
			At: workflow.Now(ctx), Details: map[string]any{"allocation_id": in.AllocationID},
		},
	}).Get(ctx, &d)
	if err != nil {
		return d, fmt.Errorf("release bed: %w", err)
	}
	return d, offerBed(ctx, d)
}

// offerBed wakes the case a freed bed went to (d.NextCaseID, none when 0):
// its workflow, waiting on the wait-list, runs its placement again and
// finds the allocation the store made. A departure and a release before
// admission (release_allocation) both end with it.
func offerBed(ctx workflow.Context, d civicflow.Departure) error {
	if d.NextCaseID == 0 {
		return nil
	}
	err := workflow.SignalExternalWorkflow(ctx, civicflow.CaseWorkflowID(d.NextCaseID), "", SignalBedOffered,
		BedOffer{AllocationID: d.AllocationID}).Get(ctx, nil)
	if err != nil {
		return fmt.Errorf("offer bed to case %d: %w", d.NextCaseID, err)
	}
	return nil
}
