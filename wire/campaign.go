package wire

import (
	"time"

	"civicflow"
)

// Campaigns over the register (年审, 专项排查; docs/campaigns.md): the
// supervisors' routes under /api/v1/campaigns and the township officials'
// tasks, visits, ledger items and found persons.

// CreateCampaignRequest is the body of POST /api/v1/campaigns. AsOf is the
// day whose register the campaign covers (YYYY-MM-DD; "" today).
type CreateCampaignRequest struct {
	Kind  string `json:"kind" validate:"required,oneof=annual_review inspection"`
	Scope string `json:"scope" validate:"required,len=6,numeric"`
	Title string `json:"title" validate:"required,notblank,max=200"`
	AsOf  string `json:"as_of" validate:"omitempty,datetime=2006-01-02"`
}

// Campaigns answers GET /api/v1/campaigns, newest first.
type Campaigns struct {
	Campaigns []civicflow.Campaign `json:"campaigns"`
}

// CampaignAnswer answers a campaign's create (201, 200 when the same
// Idempotency-Key was sent before), read and close.
type CampaignAnswer struct {
	Campaign civicflow.Campaign `json:"campaign"`
	Replayed bool               `json:"replayed,omitempty"`
	// Summary is the campaign's totals at its close (the close's answer).
	Summary *civicflow.CampaignSummary `json:"summary,omitempty"`
}

// CloseCampaignRequest is the body of POST /api/v1/campaigns/{id}/close.
type CloseCampaignRequest struct {
	Note string `json:"note" validate:"max=2000"`
}

// CampaignProgress answers GET /api/v1/campaigns/{id}/progress: the board
// of visited / total, problems, open ledger items and persons found, per
// district and per township, within the supervisor's jurisdiction.
type CampaignProgress struct {
	Campaign  civicflow.Campaign   `json:"campaign"`
	AsOf      time.Time            `json:"as_of"`
	Total     civicflow.BoardRow   `json:"total"`
	Districts []civicflow.BoardRow `json:"districts"`
	Townships []civicflow.BoardRow `json:"townships"`
}

// CampaignTasks answers GET /api/v1/campaigns/{id}/tasks: the township
// official's tasks, by ID; NextAfter is the after of the next page.
type CampaignTasks struct {
	Tasks     []civicflow.CampaignTask `json:"tasks"`
	NextAfter int64                    `json:"next_after,omitempty"`
}

// VisitRequest is the body of POST /api/v1/campaigns/{id}/tasks/{task}/visit:
// the day of the visit, what was found and the outcome; for a problem,
// each problem to put in the ledger.
type VisitRequest struct {
	VisitedOn string   `json:"visited_on" validate:"required,datetime=2006-01-02"`
	Findings  string   `json:"findings" validate:"max=4000"`
	Outcome   string   `json:"outcome" validate:"required,oneof=ok problem"`
	Problems  []string `json:"problems" validate:"max=20"`
}

// VisitRecorded answers a visit: the task as it now is and the ledger
// items the visit opened.
type VisitRecorded struct {
	Task  civicflow.CampaignTask `json:"task"`
	Items []civicflow.LedgerItem `json:"items"`
}

// LedgerItemRequest is the body of
// POST /api/v1/campaigns/{id}/tasks/{task}/ledger: one more problem found
// on a visited task.
type LedgerItemRequest struct {
	Description string `json:"description" validate:"required,notblank,max=2000"`
}

// CloseLedgerItemRequest is the body of
// POST /api/v1/campaigns/{id}/ledger/{item}/close: what was done (销号).
type CloseLedgerItemRequest struct {
	ActionTaken string `json:"action_taken" validate:"required,notblank,max=2000"`
}

// LedgerItems answers GET /api/v1/campaigns/{id}/ledger.
type LedgerItems struct {
	Items []civicflow.LedgerItem `json:"items"`
}

// FoundPersonRequest is the body of POST /api/v1/campaigns/{id}/found-persons:
// a person found during the campaign, eligible and not in the register,
// for whom the township official starts a centralised-care application
// on behalf of the community (relation community). Contact is the
// community worker the township reaches about it. It answers Submitted.
type FoundPersonRequest struct {
	Person    PersonInput      `json:"person" validate:"required"`
	Contact   CommunityContact `json:"contact" validate:"required"`
	Statement string           `json:"statement" validate:"max=2000"`
}

// CommunityContact is who applies for the community committee.
type CommunityContact struct {
	Name  string `json:"name" validate:"required,personname"`
	Phone string `json:"phone" validate:"required,mobile"`
}

// Application is the centralised-care application the request makes.
func (r FoundPersonRequest) Application() ApplicationRequest {
	return ApplicationRequest{Person: r.Person, Statement: r.Statement,
		Applicant: ApplicantInput{Relation: string(civicflow.RelationCommunity), Name: r.Contact.Name, Phone: r.Contact.Phone}}
}
