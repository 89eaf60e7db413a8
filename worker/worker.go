// Package worker wires civicflow's Temporal worker: the task queue, the
// registration of workflows and activities, worker options, and the
// namespace set-up (search attributes) that both worker and API need.
package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"civicflow/activities"
	"civicflow/workflows"
)

// Options tune the worker; zero values take the SDK's defaults.
type Options struct {
	TaskQueue                  string
	MaxConcurrentActivities    int
	MaxConcurrentWorkflowTasks int
	// StopTimeout is how long Stop waits for running activities before
	// cancelling their contexts; unfinished ones are retried on another
	// worker once their timeouts expire.
	StopTimeout time.Duration
}

// New returns a worker polling the task queue with civicflow's workflows and
// activities registered. Start it with Run or Start.
func New(c client.Client, acts *activities.Activities, o Options) sdkworker.Worker {
	if o.TaskQueue == "" {
		o.TaskQueue = workflows.TaskQueue
	}
	w := sdkworker.New(c, o.TaskQueue, sdkworker.Options{
		MaxConcurrentActivityExecutionSize:     o.MaxConcurrentActivities,
		MaxConcurrentWorkflowTaskExecutionSize: o.MaxConcurrentWorkflowTasks,
		WorkerStopTimeout:                      o.StopTimeout,
	})
	workflows.Register(w, acts)
	return w
}

// EnsureSearchAttributes registers civicflow's custom search attributes in
// the namespace unless they exist. It is idempotent and safe to run from
// several processes at once. It goes through the operator API because a
// dev server started again on an existing store ignores --search-attribute.
func EnsureSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	have, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list search attributes: %w", err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for _, key := range workflows.SearchAttributes() {
		if _, ok := have.GetCustomAttributes()[key.GetName()]; !ok {
			missing[key.GetName()] = enumspb.INDEXED_VALUE_TYPE_KEYWORD
		}
	}
	for _, key := range workflows.DatetimeSearchAttributes() {
		if _, ok := have.GetCustomAttributes()[key.GetName()]; !ok {
			missing[key.GetName()] = enumspb.INDEXED_VALUE_TYPE_DATETIME
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace, SearchAttributes: missing,
	})
	var exists *serviceerror.AlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("add search attributes: %w", err)
	}
	return nil
}
