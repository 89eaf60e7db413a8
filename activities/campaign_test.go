package activities

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"civicflow"
)

// chunkStore answers CreateTaskChunk over persons 1..persons and keeps the
// chunks asked for; the rest of Store is not used.
type chunkStore struct {
	Store
	persons int
	asked   []civicflow.TaskChunk
	tasks   map[int64]bool
}

func (s *chunkStore) CreateTaskChunk(_ context.Context, ch civicflow.TaskChunk) (civicflow.TaskChunkResult, error) {
	s.asked = append(s.asked, ch)
	r := civicflow.TaskChunkResult{LastPersonID: ch.AfterPersonID}
	for p := ch.AfterPersonID + 1; p <= int64(s.persons) && r.Read < ch.Limit; p++ {
		r.Read++
		r.LastPersonID = p
		if !s.tasks[p] {
			s.tasks[p] = true
			r.Inserted++
		}
	}
	return r, nil
}

func (s *chunkStore) FinishTaskCreation(context.Context, int64) (int, error) {
	return len(s.tasks), nil
}

func TestCreateCampaignTasksChunks(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	st := &chunkStore{persons: 25, tasks: map[int64]bool{}}
	env.RegisterActivity(&Activities{Store: st})
	v, err := env.ExecuteActivity((&Activities{}).CreateCampaignTasks, CreateTasksInput{CampaignID: 1, ChunkSize: 10})
	require.NoError(t, err)
	var res CreateTasksResult
	require.NoError(t, v.Get(&res))
	require.Equal(t, CreateTasksResult{Tasks: 25, Chunks: 3}, res)
	require.Equal(t, []int64{0, 10, 20}, afterKeys(st.asked))
}

// A retried attempt resumes after the key of the last heartbeat, and a
// chunk whose tasks an earlier attempt inserted (its heartbeat lost with
// the worker) inserts none again.
func TestCreateCampaignTasksResumesFromHeartbeat(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	st := &chunkStore{persons: 25, tasks: map[int64]bool{}}
	for p := int64(1); p <= 15; p++ {
		st.tasks[p] = true // the killed attempt got this far; it heartbeated 10
	}
	env.RegisterActivity(&Activities{Store: st})
	env.SetHeartbeatDetails(TaskProgress{LastPersonID: 10, Inserted: 10})
	v, err := env.ExecuteActivity((&Activities{}).CreateCampaignTasks, CreateTasksInput{CampaignID: 1, ChunkSize: 10})
	require.NoError(t, err)
	var res CreateTasksResult
	require.NoError(t, v.Get(&res))
	require.Equal(t, []int64{10, 20}, afterKeys(st.asked), "resumed after person 10, not from the start")
	require.Equal(t, 25, res.Tasks)
	require.Len(t, st.tasks, 25)
}

func afterKeys(chs []civicflow.TaskChunk) []int64 {
	var out []int64
	for _, c := range chs {
		out = append(out, c.AfterPersonID)
	}
	return out
}
