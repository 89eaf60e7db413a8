package activities

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/activity"

	"civicflow"
)

// DefaultTaskChunk is the number of persons one statement of task
// creation reads: 1,000 keeps each INSERT … SELECT well under a second on
// the team's VM (docs/campaigns.md) and a heartbeat between chunks.
const DefaultTaskChunk = 1000

// CreateTasksInput is the input of CreateCampaignTasks.
type CreateTasksInput struct {
	CampaignID int64
	ChunkSize  int // 0: DefaultTaskChunk
}

// CreateTasksResult is what CreateCampaignTasks answers: the campaign's
// number of tasks and how many chunks this attempt ran.
type CreateTasksResult struct {
	Tasks  int
	Chunks int
}

// TaskProgress is CreateCampaignTasks's heartbeat: the last person whose
// task exists. A retried attempt (a worker killed, a heartbeat timeout)
// resumes after it.
type TaskProgress struct {
	LastPersonID int64
	Inserted     int
}

// CreateCampaignTasks creates one task per person of the campaign in
// keyset chunks (civicflow.TaskChunk), heartbeating the last key after
// each so that a retry resumes there instead of reading the register from
// the start. Each chunk is one set-based INSERT … SELECT … ON CONFLICT DO
// NOTHING: a chunk that ran before the kill but whose heartbeat was lost
// inserts nothing the second time. It then records the number of tasks.
func (a *Activities) CreateCampaignTasks(ctx context.Context, in CreateTasksInput) (CreateTasksResult, error) {
	size := in.ChunkSize
	if size <= 0 {
		size = DefaultTaskChunk
	}
	var p TaskProgress
	if activity.HasHeartbeatDetails(ctx) {
		if err := activity.GetHeartbeatDetails(ctx, &p); err != nil {
			return CreateTasksResult{}, fmt.Errorf("read heartbeat of campaign %d: %w", in.CampaignID, err)
		}
	}
	var res CreateTasksResult
	for {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		r, err := a.Store.CreateTaskChunk(ctx, civicflow.TaskChunk{CampaignID: in.CampaignID, AfterPersonID: p.LastPersonID, Limit: size})
		if err != nil {
			return res, retryable(err)
		}
		res.Chunks++
		p.LastPersonID, p.Inserted = r.LastPersonID, p.Inserted+r.Inserted
		activity.RecordHeartbeat(ctx, p)
		if r.Read < size {
			break
		}
	}
	n, err := a.Store.FinishTaskCreation(ctx, in.CampaignID)
	if err != nil {
		return res, retryable(err)
	}
	res.Tasks = n
	return res, nil
}

// CloseCampaign records the close of a campaign and answers its totals;
// a retry answers the same totals.
func (a *Activities) CloseCampaign(ctx context.Context, cl civicflow.CampaignClosing) (civicflow.CampaignSummary, error) {
	s, err := a.Store.CloseCampaign(ctx, cl)
	return s, retryable(err)
}
