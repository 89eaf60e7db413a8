package workflows

import (
	"slices"
	"time"

	"civicflow"
)

// Messages of the CommunityRehab workflow (community_rehab.go). Like the
// rest of messages.go: fields may be added, never removed or renamed.

// SignalRehabSession records attendance at service sessions. Attendance is
// frequent and needs no answer, so it is a signal; the API authorises it
// (civicflow.ActionRecordSession) and the workflow checks again before
// counting it. The counts go into the next review.
const SignalRehabSession = "rehab_session"

// DefaultReviewsPerRun is how many reviews one run of CommunityRehab
// records before it continues as new (about a year at 90 days), so that a
// case running for years keeps a bounded history.
const DefaultReviewsPerRun = 4

// CommunityRehabInput starts the workflow of one community-rehab case, or
// continues it (Carry set) after continue-as-new.
type CommunityRehabInput struct {
	CaseID       int64
	Reference    string
	DistrictCode string
	TownshipCode string
	BirthDate    time.Time
	// ReviewsPerRun bounds the reviews of one run (0: DefaultReviewsPerRun).
	ReviewsPerRun int
	// StageSearchAttributes: see StageAttributes. Continue-as-new carries it.
	StageSearchAttributes *bool `json:",omitempty"`
	// Carry is the state handed over by continue-as-new: the case, its
	// review schedule and the attendance signals drained at the boundary.
	Carry *RehabCarry
}

// RehabCarry is what one run of CommunityRehab hands to the next.
type RehabCarry struct {
	State     CaseState
	Deadlines bool // the case keeps stage clocks
	Runs      int  // runs before this one
}

// PlanItem is one service of a rehab plan.
type PlanItem struct {
	Service   civicflow.RehabService `json:"service"`
	Frequency string                 `json:"frequency"`  // e.g. 每周2次
	StartDate string                 `json:"start_date"` // YYYY-MM-DD
}

// RehabRequest is the rehab part of an ActionRequest. Clinical content
// (diagnosis, assessment, progress notes, the agreeing person's name) is
// sealed by the API before it reaches the workflow (Sealed), so it never
// enters workflow history in the clear; the fields here are what the
// workflow needs to decide and to validate.
type RehabRequest struct {
	// Sealed is the clinical record of the action, sealed for the store.
	Sealed string `json:"sealed,omitempty"`
	// register
	FileNumber string `json:"file_number,omitempty"` // 档案号
	// assess
	Suitable *bool                    `json:"suitable,omitempty"`
	Services []civicflow.RehabService `json:"services,omitempty"` // recommended by the physician
	// agree_plan, and record_review when the plan changes
	Plan               []PlanItem                 `json:"plan,omitempty"`
	AgreedBy           civicflow.GuardianRelation `json:"agreed_by,omitempty"` // patient or guardian
	ReviewIntervalDays int                        `json:"review_interval_days,omitempty"`
	// record_review: the services progress is recorded for (all of the plan)
	Reviewed []civicflow.RehabService `json:"reviewed,omitempty"`
	// close
	Closure civicflow.ClosureReason `json:"closure,omitempty"`
	// refer
	ReferTo  civicflow.ReferralTarget `json:"refer_to,omitempty"`
	CentreID int64                    `json:"centre_id,omitempty"` // refer to another centre
}

// SessionCount is the attendance at one service since the last review.
type SessionCount struct {
	Service  civicflow.RehabService `json:"service"`
	Sessions int                    `json:"sessions"`
}

// RehabSession is the payload of SignalRehabSession.
type RehabSession struct {
	Actor    civicflow.Actor        `json:"actor"`
	Service  civicflow.RehabService `json:"service"`
	Sessions int                    `json:"sessions"`
	On       string                 `json:"on"` // YYYY-MM-DD
	// Key is the request's Idempotency-Key: the same attendance sent
	// twice (a double click, a retried request) is counted once. "":
	// counted every time.
	Key string `json:"key,omitempty"`
}

// sessionKeysKept is how many attendance keys a case remembers: far more
// than can be sent twice by mistake before the first is counted.
const sessionKeysKept = 64

// RehabState is the rehab part of CaseState.
type RehabState struct {
	CentreID       int64                    `json:"centre_id,omitempty"`
	Transfers      int                      `json:"transfers"`
	FileNumber     string                   `json:"file_number,omitempty"`
	RegisteredAt   *time.Time               `json:"registered_at,omitempty"`
	AssessedAt     *time.Time               `json:"assessed_at,omitempty"`
	Services       []civicflow.RehabService `json:"services,omitempty"`
	Plan           []PlanItem               `json:"plan,omitempty"`
	PlanStart      *time.Time               `json:"plan_start,omitempty"`
	ReviewInterval time.Duration            `json:"review_interval,omitempty"`
	ReviewsDone    int                      `json:"reviews_done"`
	NextReviewDue  *time.Time               `json:"next_review_due,omitempty"`
	// OverdueNoted is the number of the last review whose lateness was
	// recorded, so that each late review is recorded once.
	OverdueNoted int `json:"overdue_noted,omitempty"`
	// Sessions counts attendance since the last review.
	Sessions []SessionCount `json:"sessions,omitempty"`
	// SessionsSignals counts the attendance signals applied, for tests
	// and support: none is lost at the continue-as-new boundary.
	SessionSignals int `json:"session_signals"`
	// SessionKeys are the keys of the last attendance counted (at most
	// sessionKeysKept), so that one sent again is not counted twice.
	SessionKeys []string   `json:"session_keys,omitempty"`
	ClosedAt    *time.Time `json:"closed_at,omitempty"`
	// ReviewsThisRun counts reviews since the run started.
	ReviewsThisRun int `json:"reviews_this_run"`
	Runs           int `json:"runs"`
}

// clone copies r deeply enough that changing the copy leaves r alone.
func (r *RehabState) clone() *RehabState {
	if r == nil {
		return nil
	}
	c := *r
	c.Services = slices.Clone(r.Services)
	c.Plan = slices.Clone(r.Plan)
	c.Sessions = slices.Clone(r.Sessions)
	c.SessionKeys = slices.Clone(r.SessionKeys)
	return &c
}
