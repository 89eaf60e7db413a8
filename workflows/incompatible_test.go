package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"
)

// incompatibleCare stands for an unguarded edit of CentralisedCare: it
// sleeps before doing anything, which adds a timer command old histories do
// not have.
func incompatibleCare(ctx workflow.Context, in CentralisedCareInput) (CaseState, error) {
	if err := workflow.Sleep(ctx, time.Minute); err != nil {
		return CaseState{}, err
	}
	return CentralisedCare(ctx, in)
}
