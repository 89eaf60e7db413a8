package workflows

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"civicflow"
	"civicflow/activities"
)

var (
	citySupervisor  = civicflow.Actor{UserID: 20, Username: "sv.city", Role: civicflow.RoleSupervisor, Jurisdiction: civicflow.CityCode}
	yantaSupervisor = civicflow.Actor{UserID: 21, Username: "sv.yanta", Role: civicflow.RoleSupervisor, Jurisdiction: "610113"}
	otherSupervisor = civicflow.Actor{UserID: 22, Username: "sv.beilin", Role: civicflow.RoleSupervisor, Jurisdiction: "610103"}
)

// campaignHarness runs the campaign workflow with its two activities
// standing in for the store.
type campaignHarness struct {
	t        *testing.T
	env      *testsuite.TestWorkflowEnvironment
	mu       sync.Mutex
	creates  int // attempts of CreateCampaignTasks
	failures int // attempts that fail before one succeeds
	closes   []civicflow.CampaignClosing
}

func setupCampaign(t *testing.T, failures int) *campaignHarness {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	h := &campaignHarness{t: t, env: s.NewTestWorkflowEnvironment(), failures: failures}
	h.env.RegisterWorkflowWithOptions(Campaign, workflowOptions(CampaignWorkflow))
	h.env.RegisterActivity(&activities.Activities{})
	h.env.OnActivity(a.CreateCampaignTasks, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.CreateTasksInput) (activities.CreateTasksResult, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.creates++
			if h.creates <= h.failures {
				return activities.CreateTasksResult{}, errors.New("worker killed")
			}
			return activities.CreateTasksResult{Tasks: 3, Chunks: 1}, nil
		})
	h.env.OnActivity(a.CloseCampaign, mock.Anything, mock.Anything).Return(
		func(_ context.Context, cl civicflow.CampaignClosing) (civicflow.CampaignSummary, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.closes = append(h.closes, cl)
			return civicflow.CampaignSummary{Total: 3, Visited: 2, OpenItems: 1}, nil
		})
	return h
}

func (h *campaignHarness) close(delay time.Duration, req CloseCampaignRequest, wantErr string) {
	h.env.RegisterDelayedCallback(func() {
		h.env.UpdateWorkflow(UpdateCloseCampaign, "", &testsuite.TestUpdateCallback{
			OnAccept: func() {
				if wantErr != "" {
					h.t.Errorf("close by %s: accepted, want rejected with %s", req.Actor, wantErr)
				}
			},
			OnReject: func(err error) {
				var ae *temporal.ApplicationError
				switch {
				case wantErr == "":
					h.t.Errorf("close by %s: rejected: %v", req.Actor, err)
				case !errors.As(err, &ae) || ae.Type() != wantErr:
					h.t.Errorf("close by %s: rejected with %v, want type %s", req.Actor, err, wantErr)
				}
			},
			OnComplete: func(_ any, err error) {
				if wantErr == "" && err != nil {
					h.t.Errorf("close: failed: %v", err)
				}
			},
		}, req)
	}, delay)
}

func (h *campaignHarness) run(scope string) CampaignState {
	h.t.Helper()
	h.env.ExecuteWorkflow(CampaignWorkflow, CampaignInput{CampaignID: 5, Scope: scope})
	require.True(h.t, h.env.IsWorkflowCompleted())
	require.NoError(h.t, h.env.GetWorkflowError())
	var st CampaignState
	require.NoError(h.t, h.env.GetWorkflowResult(&st))
	return st
}

// The tasks are created once, the workflow waits for the close, and only
// a supervisor of the campaign's scope closes it, once.
func TestCampaignClosedBySupervisorOfScope(t *testing.T) {
	h := setupCampaign(t, 0)
	h.close(time.Hour, CloseCampaignRequest{Actor: township}, civicflow.EFORBIDDEN)
	h.close(2*time.Hour, CloseCampaignRequest{Actor: otherSupervisor}, civicflow.EFORBIDDEN)
	h.close(3*time.Hour, CloseCampaignRequest{Actor: yantaSupervisor, Note: string(make([]rune, 2001))}, civicflow.EINVALID)
	h.close(4*time.Hour, CloseCampaignRequest{Actor: yantaSupervisor, Note: "年审完成"}, "")
	h.close(5*time.Hour, CloseCampaignRequest{Actor: citySupervisor}, civicflow.ECONFLICT)
	st := h.run("610113")
	require.True(t, st.TasksCreated)
	require.Equal(t, 3, st.Tasks)
	require.True(t, st.Closed)
	require.Equal(t, &civicflow.CampaignSummary{Total: 3, Visited: 2, OpenItems: 1}, st.Summary)
	require.Len(t, h.closes, 1, "one close written")
	require.Equal(t, "年审完成", h.closes[0].Note)
	require.Equal(t, yantaSupervisor, h.closes[0].By)
	require.Equal(t, 1, h.creates)
}

// A district supervisor may not close a city campaign; the city's may.
func TestCampaignOfCityClosedByCityOnly(t *testing.T) {
	h := setupCampaign(t, 0)
	h.close(time.Hour, CloseCampaignRequest{Actor: yantaSupervisor}, civicflow.EFORBIDDEN)
	h.close(2*time.Hour, CloseCampaignRequest{Actor: citySupervisor}, "")
	st := h.run(civicflow.CityCode)
	require.True(t, st.Closed)
	require.Len(t, h.closes, 1)
}

// While the tasks are being created (the activity failed and is retried,
// as after a killed worker) the close is refused without history; once
// they exist it is accepted.
func TestCampaignCloseWaitsForTasks(t *testing.T) {
	h := setupCampaign(t, 3)
	h.close(500*time.Millisecond, CloseCampaignRequest{Actor: citySupervisor}, civicflow.ECONFLICT)
	h.close(time.Hour, CloseCampaignRequest{Actor: citySupervisor}, "")
	st := h.run("610113")
	require.True(t, st.Closed)
	require.Equal(t, 4, h.creates, "three failed attempts, then one that created the tasks")
	require.Len(t, h.closes, 1)
}
