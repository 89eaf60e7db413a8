// Package worker wires civicflow's Temporal worker: the task queue, the
// registration of workflows and activities, worker options, and the
// namespace set-up (search attributes) that both worker and API need.
package worker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
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

// searchAttributes are civicflow's custom search attributes and their types.
func searchAttributes() map[string]enumspb.IndexedValueType {
	want := map[string]enumspb.IndexedValueType{}
	for _, key := range workflows.SearchAttributes() {
		want[key.GetName()] = enumspb.INDEXED_VALUE_TYPE_KEYWORD
	}
	for _, key := range workflows.DatetimeSearchAttributes() {
		want[key.GetName()] = enumspb.INDEXED_VALUE_TYPE_DATETIME
	}
	return want
}

// missingSearchAttributes lists, sorted, those of civicflow's search
// attributes the namespace lacks.
func missingSearchAttributes(ctx context.Context, c client.Client, namespace string) (map[string]enumspb.IndexedValueType, []string, error) {
	have, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return nil, nil, fmt.Errorf("list search attributes of namespace %s: %w", namespace, err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for name, typ := range searchAttributes() {
		if _, ok := have.GetCustomAttributes()[name]; !ok {
			missing[name] = typ
		}
	}
	return missing, slices.Sorted(maps.Keys(missing)), nil
}

// RegisterSearchAttributes adds those of civicflow's custom search
// attributes the namespace lacks, and returns their names. It is what
// `civicflow temporal setup` does, with operator rights; it is idempotent
// and safe to run from several processes at once. It goes through the
// operator API because a dev server started again on an existing store
// ignores --search-attribute.
func RegisterSearchAttributes(ctx context.Context, c client.Client, namespace string) ([]string, error) {
	missing, names, err := missingSearchAttributes(ctx, c, namespace)
	if err != nil || len(missing) == 0 {
		return nil, err
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace, SearchAttributes: missing,
	})
	var exists *serviceerror.AlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return nil, fmt.Errorf("add search attributes %s to namespace %s: %w", strings.Join(names, ", "), namespace, err)
	}
	return names, nil
}

// CheckSearchAttributes fails, naming them, when the namespace lacks any of
// civicflow's search attributes. The API and the worker call it at start:
// they only read the namespace's schema, so their identity needs no
// operator rights; `civicflow temporal setup` creates what is missing.
func CheckSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	_, names, err := missingSearchAttributes(ctx, c, namespace)
	if err != nil {
		return err
	}
	if len(names) > 0 {
		return fmt.Errorf("namespace %s lacks the search attributes %s: run `civicflow temporal setup` (with operator rights) first",
			namespace, strings.Join(names, ", "))
	}
	return nil
}
