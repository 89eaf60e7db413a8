package workflows

import (
	"time"

	"civicflow"
)

// The campaign workflow's input, update and query (docs/campaigns.md).
// Fields may be added, never removed or renamed.

// CampaignInput starts the workflow of one campaign.
type CampaignInput struct {
	CampaignID int64
	// Scope is the campaign's city or district code: the close validator
	// checks the supervisor against it.
	Scope string
	// ChunkSize is the persons per task-creation statement (0: the
	// activity's default).
	ChunkSize int `json:",omitempty"`
}

// UpdateCloseCampaign is the supervisor's close of a campaign.
const UpdateCloseCampaign = string(civicflow.CampaignClose)

// QueryCampaign answers the campaign workflow's CampaignState.
const QueryCampaign = "campaign_state"

// CloseCampaignRequest is the close_campaign update's argument.
type CloseCampaignRequest struct {
	Actor civicflow.Actor
	Note  string
}

// CampaignState is where the workflow is: creating tasks, open for visits,
// or closed, with its totals at the close.
type CampaignState struct {
	CampaignID   int64
	TasksCreated bool
	Tasks        int
	Closed       bool
	ClosedAt     *time.Time                 `json:",omitempty"`
	Summary      *civicflow.CampaignSummary `json:",omitempty"`
}
