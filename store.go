package civicflow

import "time"

// The store contract: what workflows hand to activities and activities to
// the store, and what comes back. The history of every running case holds
// these shapes, so fields are only ever added and JSON names never change
// (saved histories replay: workflows/replay_test.go).

// Transition is one step of a case recorded in the read model: a timeline
// event plus the case fields it changes.
type Transition struct {
	CaseID     int64     `json:",omitzero"`
	Key        string    `json:",omitzero"` // unique per case; makes the write idempotent
	Seq        int       `json:",omitzero"` // the workflow's step counter after this step
	Action     Action    `json:",omitzero"`
	From       Stage     `json:",omitzero"`
	To         Stage     `json:",omitzero"`
	Actor      Actor     `json:",omitzero"`
	Reasons    string    `json:",omitzero"`
	Details    any       `json:",omitzero"`
	At         time.Time `json:",omitzero"`
	WaitingFor []string  `json:",omitzero"` // nil leaves it; an empty slice clears it

	CareLevel    CareLevel  `json:",omitzero"` // "" leaves it
	NoticeEndsAt *time.Time `json:",omitzero"`
	SupportStart *time.Time `json:",omitzero"`
	// StageDueAt is the due date of the stage the step enters (issue 4,
	// docs/deadlines.md). A step that changes the stage replaces the due
	// date (nil: none, or the clock is stopped); one that stays in the
	// stage keeps it unless it sets a new one.
	StageDueAt *time.Time `json:",omitzero"`
}

// Placement is the outcome of AllocateBed: a bed, or a place on the wait-list.
type Placement struct {
	Allocation *Allocation `json:"allocation,omitempty"`
	Waitlisted bool        `json:"waitlisted"`
	Position   int         `json:"position,omitempty"` // 1-based, among cases waiting for this care level
}

// Departure is the outcome of ReleaseBed.
type Departure struct {
	CaseID       int64 `json:"case_id"`       // the case that left
	NextCaseID   int64 `json:"next_case_id"`  // the wait-listed case that got the bed, 0 if none
	AllocationID int64 `json:"allocation_id"` // the next case's new allocation
	Released     bool  `json:"released"`      // false when the allocation had already been released
}

// RehabRecord is a clinical record to write with a step.
type RehabRecord struct {
	Kind   string // registration, assessment, plan, review, closure, referral
	Sealed string // from SealRehabRecord
}

// RehabStep is one step of a rehab case: the transition, the case's rehab
// summary after it and, for the centre's actions, the clinical record.
type RehabStep struct {
	Transition Transition
	// Summary replaces the rehab part of the case (nil: unchanged); its
	// CentreID also moves the case to that centre.
	Summary *RehabSummary
	Record  *RehabRecord
}

// DeadlineEvent is a reminder or a breach of a stage's deadline, recorded
// once (Key) on the case's timeline with the notifications it causes.
type DeadlineEvent struct {
	CaseID  int64
	Key     string
	Action  Action // StepDeadlineReminder or StepDeadlineBreached
	Stage   Stage
	Due     time.Time
	At      time.Time
	Details map[string]any
}

// AwardWrite is the write of an approved education grant: the step that
// completes the case and the award recorded for payment, in one
// transaction, idempotent through the step's key. The store refuses an
// amount other than the one the tier rules give the case (EINVALID, field
// tier_amount) and a second award for the same student and admission year
// (ECONFLICT, by a unique constraint).
type AwardWrite struct {
	Transition Transition
	Amount     int
	// FamilyStatus and SchoolKind are what the township verified: they
	// select the tier rule of the case's district (or the city's).
	FamilyStatus FamilyStatus
	SchoolKind   SchoolKind
}
