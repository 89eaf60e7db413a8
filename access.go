package civicflow

import (
	"fmt"
	"strings"
)

// Role is what a user does. Every user has exactly one.
type Role string

// Roles (see the domain brief).
const (
	RoleApplicant        Role = "applicant" // no account: proves access with reference + access code
	RoleTownshipOfficial Role = "township_official"
	RoleDistrictReviewer Role = "district_reviewer"
	RoleInstitutionStaff Role = "institution_staff"
	RoleRehabAssessor    Role = "rehab_assessor"
	RoleSupervisor       Role = "supervisor"
	RoleAdministrator    Role = "administrator"
)

// OfficialRoles lists the roles a user account may have.
var OfficialRoles = []Role{
	RoleTownshipOfficial, RoleDistrictReviewer, RoleInstitutionStaff,
	RoleRehabAssessor, RoleSupervisor, RoleAdministrator,
}

// Valid reports whether r is a role a user account may have.
func (r Role) Valid() bool {
	for _, v := range OfficialRoles {
		if r == v {
			return true
		}
	}
	return false
}

// CityCode is Xi'an's administrative code; a jurisdiction of CityCode covers
// every district.
const CityCode = "610100"

// Actor is who performs an action or a read: an official (a user) or the
// applicant of one case.
type Actor struct {
	UserID        int64  `json:"user_id,omitempty"`
	Username      string `json:"username,omitempty"`
	Role          Role   `json:"role"`
	Jurisdiction  string `json:"jurisdiction,omitempty"`    // district (6) or township (9 digits) or CityCode
	InstitutionID int64  `json:"institution_id,omitempty"`  // institution staff only
	RehabCentreID int64  `json:"rehab_centre_id,omitempty"` // rehab assessors only
	CaseID        int64  `json:"case_id,omitempty"`         // applicant only: the one case they hold the code for
}

// String names the actor for timelines and logs.
func (a Actor) String() string {
	if a.Role == RoleApplicant {
		return "applicant"
	}
	return fmt.Sprintf("%s (%s %s)", a.Username, a.Role, a.Jurisdiction)
}

// SystemActor is recorded for transitions the workflow makes by itself
// (a timer fired, a check finished, a bed was found).
var SystemActor = Actor{Role: "system", Username: "civicflow"}

// Scope is the part of a case that decides who may see it and act on it.
type Scope struct {
	CaseID        int64
	CaseType      CaseType // the process; "" is centralised care (scopes made before issue 15)
	Stage         Stage
	DistrictCode  string
	TownshipCode  string
	InstitutionID int64 // the institution holding the case's bed, if any
	RehabCentreID int64 // the rehab centre holding a rehab case, if any
}

// Action is an official or applicant action on a case. Action names are
// Temporal update names: never rename one.
type Action string

// Actions on a centralised-care case.
const (
	ActionAccept              Action = "accept"
	ActionRequestSupplements  Action = "request_supplements"
	ActionReject              Action = "reject"
	ActionProvideSupplements  Action = "provide_supplements"
	ActionWithdraw            Action = "withdraw"
	ActionRecordInvestigation Action = "record_investigation"
	ActionLodgeObjection      Action = "lodge_objection"
	ActionApprove             Action = "approve"
	ActionReturn              Action = "return"
	ActionConfirmAdmission    Action = "confirm_admission"
	ActionRecordDeparture     Action = "record_departure"
	// ActionReleaseAllocation gives up a bed before admission: the person
	// declined it, died or did not arrive (ReleaseReason). The case ends
	// withdrawn and the bed goes to the next waiting case (issue 18).
	ActionReleaseAllocation Action = "release_allocation"
)

// Actions on a community-rehab case (rehab.go). The pipeline's actions
// (accept, request_supplements, reject, provide_supplements, withdraw,
// approve, return) are shared with centralised care.
const (
	ActionRegister      Action = "register"       // 登记建档
	ActionAssess        Action = "assess"         // suitable or not, risk, recommended services
	ActionAgreePlan     Action = "agree_plan"     // the plan, agreed by the patient or guardian
	ActionRecordReview  Action = "record_review"  // periodic review; may change the plan
	ActionRecordSession Action = "record_session" // attendance at a service session (a signal, see workflows)
	ActionClose         Action = "close"          // 结案
	ActionRefer         Action = "refer"          // 转介: hospital, or transfer to another centre
)

// Actions lists every action name in a stable order.
func Actions() []Action {
	return []Action{
		ActionAccept, ActionRequestSupplements, ActionReject, ActionProvideSupplements,
		ActionWithdraw, ActionRecordInvestigation, ActionLodgeObjection, ActionApprove,
		ActionReturn, ActionConfirmAdmission, ActionRecordDeparture, ActionReleaseAllocation,
		ActionRegister, ActionAssess, ActionAgreePlan, ActionRecordReview, ActionRecordSession,
		ActionClose, ActionRefer, ActionRecordVerification, ActionRecordTransferVisit,
	}
}

// Valid reports whether a is a known action.
func (a Action) Valid() bool { return len(rulesFor("", a)) > 0 }

// Authorize decides whether actor may perform action on a case in scope s.
// It returns EFORBIDDEN when the role or jurisdiction is wrong (whatever the
// stage) and ECONFLICT naming the stage when the action does not fit the
// current stage. It is the one place these rules live: the API checks it
// before calling a workflow and the workflow's update validators check it
// again against the workflow's own state.
func Authorize(actor Actor, action Action, s Scope) error {
	if !action.Valid() {
		return Errorf(EINVALID, "unknown action %q", action)
	}
	var mine []Rule
	for _, r := range rulesFor(s.CaseType, action) {
		if r.Role == actor.Role {
			mine = append(mine, r)
		}
	}
	if len(mine) == 0 {
		return Errorf(EFORBIDDEN, "role %s may not %s", roleName(actor.Role), action)
	}
	if !InJurisdiction(actor, s) {
		return Errorf(EFORBIDDEN, "this case is outside your jurisdiction")
	}
	for _, r := range mine {
		for _, st := range r.Stages {
			if st == s.Stage {
				return nil
			}
		}
	}
	return &Error{Code: ECONFLICT, Message: fmt.Sprintf("%s is not allowed while the case is in stage %s", action, s.Stage)}
}

// AllowedActions lists what actor may do on a case in scope s right now.
func AllowedActions(actor Actor, s Scope) []Action {
	var out []Action
	for _, a := range Actions() {
		if a == ActionRecordDeparture {
			continue // done on the allocation, not the case
		}
		if Authorize(actor, a, s) == nil {
			out = append(out, a)
		}
	}
	return out
}

// InJurisdiction reports whether a case in scope s falls within the actor's
// jurisdiction. It decides reads as well as actions.
func InJurisdiction(actor Actor, s Scope) bool {
	switch actor.Role {
	case RoleApplicant:
		return actor.CaseID != 0 && actor.CaseID == s.CaseID
	case RoleTownshipOfficial:
		return actor.Jurisdiction != "" && actor.Jurisdiction == s.TownshipCode
	case RoleDistrictReviewer:
		return actor.Jurisdiction != "" && actor.Jurisdiction == s.DistrictCode
	case RoleSupervisor:
		return actor.Jurisdiction == CityCode || (actor.Jurisdiction != "" && actor.Jurisdiction == s.DistrictCode)
	case RoleInstitutionStaff:
		return actor.InstitutionID != 0 && actor.InstitutionID == s.InstitutionID
	case RoleRehabAssessor:
		return actor.RehabCentreID != 0 && actor.RehabCentreID == s.RehabCentreID
	}
	return false
}

// CanReadCases reports whether the role reads case records at all.
func CanReadCases(r Role) bool {
	switch r {
	case RoleTownshipOfficial, RoleDistrictReviewer, RoleSupervisor, RoleInstitutionStaff, RoleRehabAssessor:
		return true
	}
	return false
}

func roleName(r Role) string {
	if r == "" {
		return "(none)"
	}
	return strings.ReplaceAll(string(r), "_", " ")
}
