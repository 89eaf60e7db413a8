package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

type noopCallback struct{}

func (noopCallback) Accept()             {}
func (noopCallback) Reject(err error)    { panic(err) }
func (noopCallback) Complete(any, error) {}

// TestBareCaseShape runs the bare workflow to completion and checks it has
// the shape it stands in for: 11 activities plus the extras asked for,
// 4 updates, the notice timer plus the extra timers asked for.
func TestBareCaseShape(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(bareCase, workflow.RegisterOptions{Name: bareWorkflowName})
	env.RegisterActivityWithOptions(bareStep, activity.RegisterOptions{Name: bareActivityName})
	activities := 0
	env.SetOnActivityStartedListener(func(*activity.Info, context.Context, converter.EncodedValues) { activities++ })
	timers := 0
	env.SetOnTimerScheduledListener(func(string, time.Duration) { timers++ })
	for i, name := range []string{"accept", "record_investigation", "approve", "confirm_admission"} {
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(name, name, noopCallback{})
		}, time.Duration(i+1)*time.Minute)
	}
	env.ExecuteWorkflow(bareWorkflowName, BareInput{NoticePeriod: 90 * time.Second, ExtraActivities: 3, ExtraTimers: 2})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var out string
	require.NoError(t, env.GetWorkflowResult(&out))
	require.Equal(t, "completed", out)
	require.Equal(t, bareCoreActivities+3, activities)
	require.Equal(t, 1+2, timers)
}
