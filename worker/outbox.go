package worker

import (
	"context"
	"errors"
	"log/slog"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"civicflow/postgres"
	"civicflow/workflows"
)

// Dispatcher moves notifications from the outbox into Temporal: it starts
// one Notify workflow per pending row (and generation), whose ID makes a
// second start a no-op, so any number of dispatchers may run.
type Dispatcher struct {
	Store     *postgres.DB
	Client    client.Client
	TaskQueue string
	// Interval between looks at the outbox (default 1s).
	Interval time.Duration
	// Retry tunes the Notify workflows it starts; zero fields take defaults.
	Retry workflows.NotifyInput
	Log   *slog.Logger
}

// Run dispatches until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) error {
	interval := d.Interval
	if interval <= 0 {
		interval = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := d.Once(ctx); err != nil && ctx.Err() == nil && d.Log != nil {
			d.Log.Warn("dispatch notifications", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Once starts the workflows of the pending notifications and reports how
// many it started.
func (d *Dispatcher) Once(ctx context.Context) (int, error) {
	queue := d.TaskQueue
	if queue == "" {
		queue = workflows.TaskQueue
	}
	return d.Store.DispatchNotifications(ctx, 100, func(id int64, generation int) error {
		in := d.Retry
		in.NotificationID = id
		_, err := d.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID:                    workflows.NotificationWorkflowID(id, generation),
			TaskQueue:             queue,
			WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		}, workflows.NotifyWorkflow, in)
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if errors.As(err, &started) {
			return nil // an earlier dispatch started it
		}
		return err
	})
}
