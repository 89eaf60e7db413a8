package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"civicflow"
	"civicflow/activities"
	"civicflow/temporalerr"
)

// NotifyWorkflow is the workflow type that sends one notification.
const NotifyWorkflow = "Notify"

// NotificationWorkflowID derives the ID of the workflow sending one
// generation of a notification: starting it twice starts nothing new.
func NotificationWorkflowID(notificationID int64, generation int) string {
	return fmt.Sprintf("civicflow-notification-%d-%d", notificationID, generation)
}

// NotifyInput starts the workflow sending one notification. Zero durations
// take the defaults. Fields may be added, never removed or renamed.
type NotifyInput struct {
	NotificationID int64
	// InitialInterval is the first wait after a temporary failure (10s);
	// each wait doubles up to MaximumInterval (15m).
	InitialInterval time.Duration
	MaximumInterval time.Duration
	// GiveUpAfter ends the retries (2 days): the notification is then
	// failed and shows up for supervisors.
	GiveUpAfter time.Duration
	// AttemptTimeout bounds one attempt (2m); it must be shorter than the
	// row's lease (activities.Notifier.Lease), so that a retry never finds
	// the row held by an attempt Temporal has given up on.
	AttemptTimeout time.Duration
}

// Notify sends one notification from the outbox: the SendNotification
// activity, retried with back-off while failures are temporary, then, if
// it never got through, GiveUpNotification so that supervisors see it.
func Notify(ctx workflow.Context, in NotifyInput) (civicflow.NotificationState, error) {
	if in.InitialInterval <= 0 {
		in.InitialInterval = 10 * time.Second
	}
	if in.MaximumInterval <= 0 {
		in.MaximumInterval = 15 * time.Minute
	}
	if in.GiveUpAfter <= 0 {
		in.GiveUpAfter = 48 * time.Hour
	}
	if in.AttemptTimeout <= 0 {
		in.AttemptTimeout = 2 * time.Minute
	}
	sendCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    in.AttemptTimeout,
		ScheduleToCloseTimeout: in.GiveUpAfter,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        in.InitialInterval,
			BackoffCoefficient:     2,
			MaximumInterval:        in.MaximumInterval,
			NonRetryableErrorTypes: temporalerr.RetryPolicyTypes(),
		},
	})
	var state civicflow.NotificationState
	err := workflow.ExecuteActivity(sendCtx, a.SendNotification, activities.SendInput{NotificationID: in.NotificationID}).Get(ctx, &state)
	if err == nil {
		return state, nil
	}
	reason := fmt.Sprintf("gave up after retrying for %s", in.GiveUpAfter)
	err = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, recordOptions), a.GiveUpNotification,
		activities.GiveUpInput{NotificationID: in.NotificationID, Reason: reason}).Get(ctx, &state)
	if err != nil {
		return state, fmt.Errorf("give up notification %d: %w", in.NotificationID, err)
	}
	return state, nil
}
