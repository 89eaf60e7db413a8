package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"civicflow"
	"civicflow/activities"
	"civicflow/temporalerr"
)

// Campaign runs one campaign (年审 or 专项排查) over the register: one
// workflow for the whole campaign, not one per person. It creates the
// tasks as rows with one heartbeating activity (keyset chunks, resumable),
// then waits, with no timer and no history growing, for the supervisor's
// close_campaign update, and records the close. Visits, ledger items and
// found persons are row writes by the API: a signal per visit would grow
// this history by 10,000 events and keep nothing the table does not
// (docs/campaigns.md).
func Campaign(ctx workflow.Context, in CampaignInput) (CampaignState, error) {
	st := CampaignState{CampaignID: in.CampaignID}
	closing := false
	if err := workflow.SetQueryHandler(ctx, QueryCampaign, func() (CampaignState, error) { return st, nil }); err != nil {
		return st, err
	}
	err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateCloseCampaign,
		func(ctx workflow.Context, req CloseCampaignRequest) (civicflow.CampaignSummary, error) {
			if err := validateClose(in, st, closing, req); err != nil {
				return civicflow.CampaignSummary{}, err
			}
			closing = true
			at := workflow.Now(ctx)
			var sum civicflow.CampaignSummary
			err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, recordOptions), a.CloseCampaign,
				civicflow.CampaignClosing{CampaignID: in.CampaignID, Note: req.Note, By: req.Actor, At: at}).Get(ctx, &sum)
			if err != nil {
				closing = false
				return sum, domainError(temporalerr.Domain(err, func(string) bool { return true }))
			}
			st.Closed, st.ClosedAt, st.Summary = true, &at, &sum
			return sum, nil
		},
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, req CloseCampaignRequest) error {
			return validateClose(in, st, closing, req)
		}},
	)
	if err != nil {
		return st, err
	}

	var res activities.CreateTasksResult
	err = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, taskCreationOptions), a.CreateCampaignTasks,
		activities.CreateTasksInput{CampaignID: in.CampaignID, ChunkSize: in.ChunkSize}).Get(ctx, &res)
	if err != nil {
		return st, fmt.Errorf("create the tasks of campaign %d: %w", in.CampaignID, err)
	}
	st.TasksCreated, st.Tasks = true, res.Tasks

	if err := workflow.Await(ctx, func() bool { return st.Closed }); err != nil {
		return st, err
	}
	// Let the close's handler answer its caller before the run ends.
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return st, err
	}
	return st, nil
}

// taskCreationOptions: one chunk takes well under a second, so a worker
// that stops heartbeating for 30 s is gone and another attempt resumes
// from the last key; the whole creation of 10,000 tasks takes seconds.
var taskCreationOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 30 * time.Minute,
	HeartbeatTimeout:    30 * time.Second,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:        time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        time.Minute,
		NonRetryableErrorTypes: temporalerr.NonRetryable(),
	},
}

// validateClose is the close_campaign validator: a supervisor of the
// campaign's scope, once the tasks exist, once. It must not change state.
func validateClose(in CampaignInput, st CampaignState, closing bool, req CloseCampaignRequest) error {
	if err := civicflow.AuthorizeCampaign(req.Actor, civicflow.CampaignClose, in.Scope, ""); err != nil {
		return domainError(err)
	}
	switch {
	case st.Closed || closing:
		return domainError(civicflow.Errorf(civicflow.ECONFLICT, "the campaign is closed already"))
	case !st.TasksCreated:
		return domainError(civicflow.Errorf(civicflow.ECONFLICT, "the campaign's tasks are still being created; close it when they exist"))
	case len([]rune(strings.TrimSpace(req.Note))) > 2000:
		return domainError(civicflow.Invalid(civicflow.FieldError{Field: "note", Reason: "must be at most 2000 characters"}))
	}
	return nil
}
