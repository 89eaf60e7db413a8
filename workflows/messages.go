// Package workflows holds civicflow's Temporal workflows: one per process,
// deterministic, with every side effect in an activity. Official actions are
// Temporal updates whose validators reject a wrong actor, a wrong stage or
// missing reasons before anything is written to history.
package workflows

import (
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"

	"civicflow"
)

// TaskQueue is the task queue of civicflow's workflows and activities.
const TaskQueue = "civicflow"

// Query, signal and update names. Update names are the action names of the
// civicflow package (civicflow.Action). Never rename one: running cases use
// them.
const (
	QueryState       = "state"
	SignalBedOffered = "bed_offered"
)

// Search attributes, registered by `civicflow temporal setup` so that the
// Temporal UI can filter cases.
var (
	AttrCaseType = temporal.NewSearchAttributeKeyKeyword("CivicflowCaseType")
	AttrStage    = temporal.NewSearchAttributeKeyKeyword("CivicflowStage")
	AttrDistrict = temporal.NewSearchAttributeKeyKeyword("CivicflowDistrict")
	AttrTownship = temporal.NewSearchAttributeKeyKeyword("CivicflowTownship")
	// AttrStageDue is the current stage's due date (issue 4); unset when
	// the stage has no limit or its clock is stopped.
	AttrStageDue = temporal.NewSearchAttributeKeyTime("CivicflowStageDue")
)

// AttrReference is the case's reference (TK-…), set when the API starts
// the workflow, so that the Temporal UI finds a case by what officials and
// applicants quote.
var AttrReference = temporal.NewSearchAttributeKeyKeyword("CivicflowReference")

// DatetimeSearchAttributes lists the datetime keys to register.
func DatetimeSearchAttributes() []temporal.SearchAttributeKeyTime {
	return []temporal.SearchAttributeKeyTime{AttrStageDue}
}

// SearchAttributes lists the keys to register.
func SearchAttributes() []temporal.SearchAttributeKeyKeyword {
	return []temporal.SearchAttributeKeyKeyword{AttrReference, AttrCaseType, AttrStage, AttrDistrict, AttrTownship}
}

// CentralisedCareInput starts the workflow of one centralised-care case.
// Fields may be added, never removed or renamed.
type CentralisedCareInput struct {
	CaseID       int64
	Reference    string
	DistrictCode string
	TownshipCode string
	BirthDate    time.Time
	SelfCare     civicflow.CareLevel // as reported; the investigation confirms it
	// NoticePeriod is the length of 公示; zero means civicflow.PublicNoticePeriod.
	NoticePeriod time.Duration
	// StageSearchAttributes: see StageAttributes.
	StageSearchAttributes *bool `json:",omitempty"`
}

// StageAttributes reports whether a case's workflow keeps the
// CivicflowStage and CivicflowStageDue search attributes current, from its
// input's StageSearchAttributes. Each stage change is then one more
// visibility write in Temporal (about 3 ms of server CPU, 7 or 8 per
// centralised-care case: docs/performance.md), and the read model already
// answers every question by stage, so the API leaves them off unless
// CIVICFLOW_TEMPORAL_STAGE_SEARCH_ATTRIBUTES is on. nil, as in every case
// started before the setting existed, keeps them: their histories upsert.
func StageAttributes(in *bool) bool { return in == nil || *in }

// HomeVisit is what the township official records after 入户调查.
type HomeVisit struct {
	VisitedOn string              `json:"visited_on"` // YYYY-MM-DD
	Visitors  []string            `json:"visitors"`
	Findings  string              `json:"findings"`
	CareLevel civicflow.CareLevel `json:"care_level"`
	// Opinion is the township's preliminary opinion (初审): eligible, or
	// ineligible with Reasons, which ends the case.
	Opinion string `json:"opinion"`
}

// ActionRequest is the input of every action update.
type ActionRequest struct {
	Actor       civicflow.Actor     `json:"actor"`
	Reasons     string              `json:"reasons,omitempty"`
	Items       []string            `json:"items,omitempty"`        // request_supplements: everything missing, at once
	DocumentIDs []int64             `json:"document_ids,omitempty"` // provide_supplements
	Note        string              `json:"note,omitempty"`
	HomeVisit   *HomeVisit          `json:"home_visit,omitempty"` // record_investigation
	Objector    string              `json:"objector,omitempty"`   // lodge_objection
	CareLevel   civicflow.CareLevel `json:"care_level,omitempty"` // approve: the confirmed care level
	// ReleaseReason says why a bed is given up before admission
	// (release_allocation).
	ReleaseReason civicflow.ReleaseReason `json:"release_reason,omitempty"`
	// RehabCentreID is the centre a district names when it approves a
	// community-rehab case (approve).
	RehabCentreID int64 `json:"rehab_centre_id,omitempty"`
	// Rehab carries the fields of the rehab centre's actions
	// (community_rehab.go).
	Rehab *RehabRequest `json:"rehab,omitempty"`
	// Verification is the township's record_verification of an
	// education-grant case.
	Verification *civicflow.EducationVerification `json:"verification,omitempty"`
	// TierAmount is the grant a district approves (approve of an
	// education-grant case): 3000, 5000 or 7000, as the tier rules give.
	TierAmount int `json:"tier_amount,omitempty"`
	// SupportForm is the person's choice a district records when it
	// approves centralised care (社会救助暂行办法 art. 19): "" or
	// centralised goes to placement, dispersed completes with Carer.
	SupportForm civicflow.SupportForm `json:"support_form,omitempty"`
	// Carer is the carer and care agreement of dispersed support.
	Carer *civicflow.CarerAgreement `json:"carer,omitempty"`
	// TransferVisit is the township's record_transfer_visit.
	TransferVisit *TransferVisit `json:"transfer_visit,omitempty"`
}

// ActionResult is what an action update returns once the read model shows it.
type ActionResult struct {
	Stage civicflow.Stage `json:"stage"`
	Seq   int             `json:"version"`
}

// CaseState is the workflow's view of a case, returned by QueryState.
type CaseState struct {
	CaseID        int64                  `json:"case_id"`
	Stage         civicflow.Stage        `json:"stage"`
	Seq           int                    `json:"version"`
	Round         int                    `json:"investigation_round"`
	WaitingFor    []string               `json:"waiting_for"`
	CareLevel     civicflow.CareLevel    `json:"care_level,omitempty"`
	HomeVisit     *HomeVisit             `json:"home_visit,omitempty"`
	Check         *civicflow.CheckResult `json:"check,omitempty"`
	NoticeEndsAt  *time.Time             `json:"notice_ends_at,omitempty"`
	Listed        bool                   `json:"listed"`
	AllocationID  int64                  `json:"allocation_id,omitempty"`
	InstitutionID int64                  `json:"institution_id,omitempty"`
	SupportStart  *time.Time             `json:"support_start,omitempty"`
	StageDueAt    *time.Time             `json:"stage_due_at,omitempty"` // the current stage's due date (issue 4)
	Rehab         *RehabState            `json:"rehab,omitempty"`        // community rehab only
	Education     *EducationState        `json:"education,omitempty"`    // education grant only
	// SupplementsRequested: the township listed the missing papers once
	// (一次性告知); it may not ask again.
	SupplementsRequested bool `json:"supplements_requested,omitempty"`
}

// clone copies st deeply enough that changing the copy (a step's edit)
// leaves st alone.
func (st CaseState) clone() CaseState {
	st.WaitingFor = slices.Clone(st.WaitingFor)
	if st.HomeVisit != nil {
		v := *st.HomeVisit
		v.Visitors = slices.Clone(v.Visitors)
		st.HomeVisit = &v
	}
	if st.Check != nil {
		c := *st.Check
		st.Check = &c
	}
	if st.Education != nil {
		e := *st.Education
		st.Education = &e
	}
	st.Rehab = st.Rehab.clone()
	return st
}

// BedOffer is the payload of SignalBedOffered.
type BedOffer struct {
	AllocationID int64
}

// DepartureInput starts the workflow recording a resident leaving.
type DepartureInput struct {
	AllocationID int64
	Actor        civicflow.Actor
	Reasons      string
}
