package workflows

import (
	"time"

	"civicflow"
)

// Messages of the register's workflows (register_cases.go) and of the
// dispersed-support approval. Like the rest of messages.go: fields may be
// added, never removed or renamed.

// SupportTransferInput starts the workflow of one transfer from dispersed
// to centralised support.
type SupportTransferInput struct {
	CaseID       int64
	Reference    string
	DistrictCode string
	TownshipCode string
	// StageSearchAttributes: see StageAttributes.
	StageSearchAttributes *bool `json:",omitempty"`
}

// SupportTerminationInput starts the workflow of one termination of
// support.
type SupportTerminationInput struct {
	CaseID       int64
	Reference    string
	DistrictCode string
	TownshipCode string
	// Reason and EffectiveOn are what the termination declares: why
	// support ends, and the day it does.
	Reason      civicflow.RegisterEndReason
	EffectiveOn time.Time
	// NoticePeriod fixes the length of the public notice (demos, tests);
	// zero: the jurisdiction's deadline rule decides.
	NoticePeriod time.Duration
	// StageSearchAttributes: see StageAttributes.
	StageSearchAttributes *bool `json:",omitempty"`
}

// TransferVisit is what the township records after visiting a person who
// asks to move from dispersed to centralised support.
type TransferVisit struct {
	VisitedOn string                   `json:"visited_on"` // YYYY-MM-DD
	Reason    civicflow.TransferReason `json:"reason"`
	Findings  string                   `json:"findings"`
	CareLevel civicflow.CareLevel      `json:"care_level"`
}
