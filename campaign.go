package civicflow

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Campaigns over the register (issue 18 item 5, docs/campaigns.md): the
// annual review (年审) and the inspection campaign (专项排查). A supervisor
// starts one over the persons in the register of a district or the whole
// city; every person gets one task for the township official, who visits
// and records what was found. A finding opens items in the problem ledger
// (问题台账), closed one by one (逐一销号) with what was done.

// CampaignKind is what a campaign is. Stored and sent to workflows: never
// change a value.
type CampaignKind string

// Kinds of campaign.
const (
	CampaignAnnualReview CampaignKind = "annual_review" // 年审
	CampaignInspection   CampaignKind = "inspection"    // 专项排查
)

// Valid reports whether k is a known kind.
func (k CampaignKind) Valid() bool { return k == CampaignAnnualReview || k == CampaignInspection }

// VisitOutcome is what a visit concluded. Stored: never change a value.
type VisitOutcome string

// Outcomes of a visit: nothing to act on, or a problem (at least one item
// opened in the ledger).
const (
	OutcomeOK      VisitOutcome = "ok"
	OutcomeProblem VisitOutcome = "problem"
)

// Valid reports whether o is a known outcome.
func (o VisitOutcome) Valid() bool { return o == OutcomeOK || o == OutcomeProblem }

// Task states.
const (
	TaskPending = "pending"
	TaskVisited = "visited"
)

// CampaignAction is what is done on a campaign. They are not case actions:
// a campaign has no stages, and its tasks are rows (docs/campaigns.md).
type CampaignAction string

// Campaign actions. CampaignClose is also the name of the campaign
// workflow's update: never rename it.
const (
	CampaignCreate     CampaignAction = "create_campaign"
	CampaignClose      CampaignAction = "close_campaign"
	CampaignReadBoard  CampaignAction = "read_campaign_board"
	CampaignVisit      CampaignAction = "record_visit"        // record a visit, open and close ledger items
	CampaignFindPerson CampaignAction = "record_found_person" // an eligible person not in the register
)

// AuthorizeCampaign decides whether actor may do act on a campaign over
// scope (CityCode or a district code); township is the township of the
// task or person concerned (township actions only). It is the one place
// these rules live: the API checks it, and the campaign workflow's close
// validator checks it again.
//
// Supervisors create, close and watch campaigns: a city supervisor any,
// a district supervisor those of their district (not the city's, which
// cover other districts too). Township officials record visits, ledger
// items and found persons in their own township, within the campaign's
// scope. Nobody else takes part; reading the board is the supervisors'
// (a district supervisor reads the part of a city campaign in their
// district).
func AuthorizeCampaign(actor Actor, act CampaignAction, scope, township string) error {
	switch act {
	case CampaignCreate, CampaignClose, CampaignReadBoard:
		if actor.Role != RoleSupervisor {
			return Errorf(EFORBIDDEN, "role %s may not %s", roleName(actor.Role), act)
		}
		// A district supervisor watches a city campaign too, narrowed to
		// their district by the caller; they neither start nor close one.
		if act == CampaignReadBoard && scope == CityCode {
			return nil
		}
		if actor.Jurisdiction != CityCode && actor.Jurisdiction != scope {
			return Errorf(EFORBIDDEN, "this campaign is outside your jurisdiction")
		}
		return nil
	case CampaignVisit, CampaignFindPerson:
		if actor.Role != RoleTownshipOfficial {
			return Errorf(EFORBIDDEN, "role %s may not %s", roleName(actor.Role), act)
		}
		if actor.Jurisdiction == "" || actor.Jurisdiction != township ||
			(scope != CityCode && DistrictOf(township) != scope) {
			return Errorf(EFORBIDDEN, "this task is outside your township")
		}
		return nil
	}
	return Errorf(EINVALID, "unknown campaign action %q", act)
}

// NewCampaign is a campaign to start.
type NewCampaign struct {
	Kind  CampaignKind
	Scope string // CityCode or a district code
	Title string
	// AsOf is the day whose register the campaign covers (China day).
	AsOf      time.Time
	CreatedBy Actor
	// IdempotencyKey makes a repeated create find the first.
	IdempotencyKey string
}

// Check validates the campaign's own fields (the scope's existence is the
// store's).
func (n NewCampaign) Check() []FieldError {
	var bad []FieldError
	if !n.Kind.Valid() {
		bad = append(bad, FieldError{Field: "kind", Reason: "must be annual_review or inspection"})
	}
	if len(n.Scope) != 6 {
		bad = append(bad, FieldError{Field: "scope", Reason: "must be the city (610100) or a district code"})
	}
	switch t := strings.TrimSpace(n.Title); {
	case t == "":
		bad = append(bad, FieldError{Field: "title", Reason: "is required"})
	case utf8.RuneCountInString(t) > 200:
		bad = append(bad, FieldError{Field: "title", Reason: "must be at most 200 characters"})
	}
	return bad
}

// Campaign is a campaign as supervisors and officials read it.
type Campaign struct {
	ID        int64        `json:"id"`
	Kind      CampaignKind `json:"kind"`
	Scope     string       `json:"scope"`
	ScopeName string       `json:"scope_name"`
	Title     string       `json:"title"`
	AsOf      time.Time    `json:"as_of"`
	CreatedBy string       `json:"created_by"`
	CreatedAt time.Time    `json:"created_at"`
	// TasksCreatedAt is set once every task exists, with TaskCount; until
	// then the workflow is creating them in chunks.
	TasksCreatedAt *time.Time `json:"tasks_created_at,omitempty"`
	TaskCount      *int       `json:"task_count,omitempty"`
	ClosedAt       *time.Time `json:"closed_at,omitempty"`
	ClosedBy       string     `json:"closed_by,omitempty"`
	ClosingNote    string     `json:"closing_note,omitempty"`
}

// Open reports whether visits may still be recorded.
func (c Campaign) Open() bool { return c.ClosedAt == nil }

// CampaignWorkflowID is the ID of a campaign's workflow.
func CampaignWorkflowID(id int64) string { return "campaign-" + strconv.FormatInt(id, 10) }

// TaskChunk is one chunk of task creation: tasks for the persons after
// AfterPersonID, at most Limit of them.
type TaskChunk struct {
	CampaignID    int64
	AfterPersonID int64
	Limit         int
}

// TaskChunkResult is what a chunk did: the persons it read (Read < Limit:
// the last chunk), the tasks it inserted (fewer than Read when an earlier
// attempt inserted them) and the last person read, the key of the next.
type TaskChunkResult struct {
	Read         int
	Inserted     int
	LastPersonID int64
}

// CampaignTask is one person's task as the township official reads it:
// name and ID number masked.
type CampaignTask struct {
	ID             int64        `json:"id"`
	CampaignID     int64        `json:"campaign_id"`
	PersonName     string       `json:"person_name"` // masked
	IDNumberMasked string       `json:"id_number_masked"`
	Form           SupportForm  `json:"form"`
	CareLevel      CareLevel    `json:"care_level"`
	DistrictCode   string       `json:"district_code"`
	TownshipCode   string       `json:"township_code"`
	State          string       `json:"state"`
	VisitedOn      *time.Time   `json:"visited_on,omitempty"`
	Visitor        string       `json:"visitor,omitempty"`
	Findings       string       `json:"findings,omitempty"`
	Outcome        VisitOutcome `json:"outcome,omitempty"`
	OpenItems      int          `json:"open_items"`
}

// TaskFilter selects a township's tasks of one campaign, keyset-paged by
// ID (ascending).
type TaskFilter struct {
	CampaignID   int64
	TownshipCode string
	State        string // TaskPending, TaskVisited or "" for both
	AfterID      int64
	Limit        int
}

// Visit is what the township official records after visiting a person.
// Problems, required for OutcomeProblem, open one ledger item each.
type Visit struct {
	TaskID    int64
	VisitedOn time.Time
	Findings  string
	Outcome   VisitOutcome
	Problems  []string
	Visitor   Actor
}

// Check validates the visit; today is the China day of the request.
func (v Visit) Check(today time.Time) []FieldError {
	var bad []FieldError
	if v.VisitedOn.IsZero() {
		bad = append(bad, FieldError{Field: "visited_on", Reason: "must be a date (YYYY-MM-DD)"})
	} else if v.VisitedOn.After(today) {
		bad = append(bad, FieldError{Field: "visited_on", Reason: "must not be in the future"})
	}
	if utf8.RuneCountInString(v.Findings) > 4000 {
		bad = append(bad, FieldError{Field: "findings", Reason: "must be at most 4000 characters"})
	}
	switch v.Outcome {
	case OutcomeOK:
		if len(v.Problems) > 0 {
			bad = append(bad, FieldError{Field: "problems", Reason: "must be empty when the outcome is ok"})
		}
	case OutcomeProblem:
		if strings.TrimSpace(v.Findings) == "" {
			bad = append(bad, FieldError{Field: "findings", Reason: "say what was found"})
		}
		if len(v.Problems) == 0 {
			bad = append(bad, FieldError{Field: "problems", Reason: "list each problem to put in the ledger; at least one"})
		}
	default:
		bad = append(bad, FieldError{Field: "outcome", Reason: "must be ok or problem"})
	}
	for i, p := range v.Problems {
		bad = append(bad, checkText("problems["+strconv.Itoa(i)+"]", p, 2000)...)
	}
	return bad
}

func checkText(field, s string, max int) []FieldError {
	switch t := strings.TrimSpace(s); {
	case t == "":
		return []FieldError{{Field: field, Reason: "is required"}}
	case utf8.RuneCountInString(t) > max:
		return []FieldError{{Field: field, Reason: "must be at most " + strconv.Itoa(max) + " characters"}}
	}
	return nil
}

// CheckLedgerText validates a ledger item's description or the action
// taken to close it.
func CheckLedgerText(field, s string) []FieldError { return checkText(field, s, 2000) }

// LedgerItem is one item of the problem ledger.
type LedgerItem struct {
	ID           int64      `json:"id"`
	TaskID       int64      `json:"task_id"`
	CampaignID   int64      `json:"campaign_id"`
	DistrictCode string     `json:"district_code"`
	TownshipCode string     `json:"township_code"`
	Description  string     `json:"description"`
	OpenedAt     time.Time  `json:"opened_at"`
	OpenedBy     string     `json:"opened_by"`
	ClosedAt     *time.Time `json:"closed_at,omitempty"`
	ClosedBy     string     `json:"closed_by,omitempty"`
	ActionTaken  string     `json:"action_taken,omitempty"`
}

// TaskRef is where a task or ledger item is, for authorisation.
type TaskRef struct {
	CampaignID   int64
	Scope        string
	TownshipCode string
	Open         bool // the campaign is not closed
}

// BoardRow is one township's progress in a campaign.
type BoardRow struct {
	DistrictCode string `json:"district_code"`
	District     string `json:"district"`
	TownshipCode string `json:"township_code,omitempty"`
	Township     string `json:"township,omitempty"`
	Total        int    `json:"total"`
	Visited      int    `json:"visited"`
	Problems     int    `json:"problems"`   // visits with outcome problem
	OpenItems    int    `json:"open_items"` // ledger items not closed yet
	Found        int    `json:"found"`      // persons found, applications started
}

// Add adds r's counts to b.
func (b *BoardRow) Add(r BoardRow) {
	b.Total += r.Total
	b.Visited += r.Visited
	b.Problems += r.Problems
	b.OpenItems += r.OpenItems
	b.Found += r.Found
}

// CampaignSummary is a campaign's totals at its close.
type CampaignSummary struct {
	Total     int `json:"total"`
	Visited   int `json:"visited"`
	OpenItems int `json:"open_items"`
}

// CampaignClosing is the close of a campaign.
type CampaignClosing struct {
	CampaignID int64
	Note       string
	By         Actor
	At         time.Time
}
