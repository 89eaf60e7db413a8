package civicflow

import (
	"strings"
	"time"
)

// The register of supported persons (在册特困人员, issue 18,
// docs/register.md). A person whose support is confirmed is entered in
// the register: centralised (集中供养) from the admission to an
// institution, dispersed (分散供养) from the district's decision, at home
// with a carer under a care agreement. The register is periods of
// support; each is opened by the case that confirmed it and ended once by
// what ended it. It is the source of later payments.

// SupportForm is the form of support the person chose (社会救助暂行办法
// art. 19). Stored and sent to workflows: never change a value.
type SupportForm string

// Forms of support.
const (
	SupportCentralised SupportForm = "centralised" // 集中供养, in an institution
	SupportDispersed   SupportForm = "dispersed"   // 分散供养, at home with a carer
)

// Valid reports whether f is a known form.
func (f SupportForm) Valid() bool { return f == SupportCentralised || f == SupportDispersed }

// SupportForms lists the forms.
var SupportForms = []SupportForm{SupportCentralised, SupportDispersed}

// RegisterEndReason is why a period of support ended. Stored: never
// change a value.
type RegisterEndReason string

// Why a period ends: a transfer to an institution (the dispersed period
// ends, a centralised one begins), a termination (社会救助暂行办法 art. 18)
// or a departure from the institution.
const (
	EndTransferred    RegisterEndReason = "transferred"
	EndDied           RegisterEndReason = "died"
	EndRegainedIncome RegisterEndReason = "regained_income" // 有了生活来源
	EndSupporterFound RegisterEndReason = "supporter_found" // 有了法定赡养、抚养、扶养义务人且其有能力
	EndMovedAway      RegisterEndReason = "moved_away"      // 户籍迁出
	EndDeparted       RegisterEndReason = "departed"        // left the institution (record_departure)
)

// TerminationReasons are the reasons a termination may give.
var TerminationReasons = []RegisterEndReason{EndDied, EndRegainedIncome, EndSupporterFound, EndMovedAway}

// ValidTermination reports whether r is a reason a termination may give.
func (r RegisterEndReason) ValidTermination() bool {
	for _, v := range TerminationReasons {
		if r == v {
			return true
		}
	}
	return false
}

// CarerAgreement is the carer (照料服务人) of a person in dispersed support
// and their care agreement (照料服务协议). Dates are YYYY-MM-DD; EndsOn ""
// is open-ended. The phone is sealed at rest and shown masked.
type CarerAgreement struct {
	Name     string `json:"name"`
	Relation string `json:"relation"` // to the person: 侄女, 邻居 …
	Phone    string `json:"phone"`
	StartsOn string `json:"starts_on"`
	EndsOn   string `json:"ends_on,omitempty"`
}

// Check validates the agreement; field names start with prefix.
func (c CarerAgreement) Check(prefix string) []FieldError {
	var bad []FieldError
	add := func(field, reason string) { bad = append(bad, FieldError{Field: prefix + field, Reason: reason}) }
	switch n := strings.TrimSpace(c.Name); {
	case n == "":
		add("name", "is required")
	case len([]rune(n)) > 50:
		add("name", "must be at most 50 characters")
	}
	if len([]rune(c.Relation)) > 30 {
		add("relation", "must be at most 30 characters")
	}
	if !ValidMobile(c.Phone) {
		add("phone", "must be a mainland mobile number (11 digits, starting 13-19)")
	}
	start, err := time.Parse(time.DateOnly, c.StartsOn)
	if err != nil {
		add("starts_on", "must be a date (YYYY-MM-DD)")
	}
	if c.EndsOn != "" {
		end, err2 := time.Parse(time.DateOnly, c.EndsOn)
		switch {
		case err2 != nil:
			add("ends_on", "must be a date (YYYY-MM-DD)")
		case err == nil && !end.After(start):
			add("ends_on", "must be after starts_on")
		}
	}
	return bad
}

// RegisterEntry is one period of support of a registered person, as
// officials read it: personal data masked.
type RegisterEntry struct {
	ID             int64       `json:"id"`
	PersonID       int64       `json:"person_id"`
	PersonName     string      `json:"person_name"` // masked
	IDNumberMasked string      `json:"id_number_masked"`
	BirthYear      int         `json:"birth_year"`
	Form           SupportForm `json:"form"`
	CareLevel      CareLevel   `json:"care_level"`
	DistrictCode   string      `json:"district_code"`
	TownshipCode   string      `json:"township_code"`
	// Centralised: the institution and the bed.
	InstitutionID int64  `json:"institution_id,omitempty"`
	Institution   string `json:"institution,omitempty"`
	BedLabel      string `json:"bed,omitempty"`
	AllocationID  int64  `json:"allocation_id,omitempty"`
	// Dispersed: the carer, phone masked.
	Carer *CarerAgreement `json:"carer,omitempty"`
	// StartsOn is the first day of support; EndsOn (exclusive) is set once
	// the period ended, with EndReason.
	StartsOn  time.Time         `json:"starts_on"`
	EndsOn    *time.Time        `json:"ends_on,omitempty"`
	EndReason RegisterEndReason `json:"end_reason,omitempty"`
	// MonthlyStandard is the district's support standard (CNY) in force
	// today; 0 when none is set.
	MonthlyStandard int `json:"monthly_standard"`
	// OpenedByCase is the reference of the case that confirmed the support.
	OpenedByCase string `json:"opened_by_case"`
	ClosedByCase string `json:"closed_by_case,omitempty"`
}

// Scope is the entry's authorisation scope: reads follow the rules of a
// case in the same place (InJurisdiction).
func (e RegisterEntry) Scope() Scope {
	return Scope{DistrictCode: e.DistrictCode, TownshipCode: e.TownshipCode, InstitutionID: e.InstitutionID}
}

// RegisterChange is one change of the register: a period entered or
// ended, with its date and the case that caused it.
type RegisterChange struct {
	ID          int64          `json:"id"`
	PeriodID    int64          `json:"period_id"`
	Kind        string         `json:"kind"` // entered, ended
	EffectiveOn time.Time      `json:"effective_on"`
	Case        string         `json:"case,omitempty"` // reference
	Actor       Actor          `json:"actor"`
	Details     map[string]any `json:"details,omitempty"`
	At          time.Time      `json:"at"`
}

// Register change kinds.
const (
	RegisterEntered = "entered"
	RegisterEnded   = "ended"
)

// RegisterFilter selects register entries. The caller's jurisdiction
// always applies on top (the API narrows it).
type RegisterFilter struct {
	DistrictCode string
	TownshipCode string
	Form         SupportForm
	CareLevel    CareLevel
	// Name matches part of the person's name; IDNumber the whole number
	// (through the keyed hash: numbers are never compared in the clear).
	Name     string
	IDNumber string
	// IncludeEnded lists ended periods too (lists show running ones).
	IncludeEnded bool
	// AfterID pages by keyset: entries with a smaller ID (newest first).
	AfterID int64
	Limit   int
}

// RegisterCount is the number of persons currently in the register in a
// district, form and care level.
type RegisterCount struct {
	DistrictCode string      `json:"district_code"`
	District     string      `json:"district"`
	Form         SupportForm `json:"form"`
	CareLevel    CareLevel   `json:"care_level"`
	Persons      int         `json:"persons"`
}

// SupportStandard is a district's monthly support standard from a date.
type SupportStandard struct {
	DistrictCode  string    `json:"district_code"`
	District      string    `json:"district,omitempty"`
	EffectiveFrom time.Time `json:"effective_from"`
	MonthlyAmount int       `json:"monthly_amount"` // CNY
	SetBy         string    `json:"set_by"`
	SetAt         time.Time `json:"set_at"`
}

// DispersedWrite is the write of an approval in dispersed support: the
// step that completes the case and the period it opens, in one
// transaction, idempotent through the step's key and the case (a case
// opens at most one period). StartsOn is the first day of support.
type DispersedWrite struct {
	Transition Transition
	CareLevel  CareLevel
	Carer      CarerAgreement
	StartsOn   time.Time
}

// The two processes on a registered person (process.go): the transfer
// from dispersed to centralised support, and the termination of support.
const (
	// CaseTypeSupportTransfer is 分散供养转集中供养: the person, or a
	// relative, applies at the township; the township visits and records
	// why; the district approves and a bed is found as for a new case.
	// No new eligibility investigation: the person is in the register.
	CaseTypeSupportTransfer CaseType = "support_transfer"
	// CaseTypeSupportTermination is 终止救助供养 (社会救助暂行办法 art.
	// 18): raised by the village or community committee (through the
	// township), the institution or the township; the township reviews,
	// the district confirms, a public notice runs, and the period of
	// support ends on the effective date.
	CaseTypeSupportTermination CaseType = "support_termination"
)

// Actions of the register's processes.
const (
	// ActionRecordTransferVisit is the township's visit for a transfer:
	// why the person must move (TransferReason) and their care level now.
	ActionRecordTransferVisit Action = "record_transfer_visit"
)

// TransferReason is why a person in dispersed support moves to an
// institution. Stored: never change a value.
type TransferReason string

// Reasons for a transfer.
const (
	TransferCarerUnable       TransferReason = "carer_unable"        // the carer cannot go on (work, illness, moved)
	TransferCareLevelChanged  TransferReason = "care_level_changed"  // the person now needs more care
	TransferPersonsOwnRequest TransferReason = "persons_own_request" // the person asks for it
)

// Valid reports whether r is a known reason.
func (r TransferReason) Valid() bool {
	return r == TransferCarerUnable || r == TransferCareLevelChanged || r == TransferPersonsOwnRequest
}

// TerminationWrite is the end of a period of support confirmed by a
// termination case: the step that completes the case, the period's end on
// EffectiveOn with Reason, and, for a resident of an institution, the bed
// freed and given to the next waiting case, in one transaction; a retry
// of the step writes nothing.
type TerminationWrite struct {
	Transition  Transition
	Reason      RegisterEndReason
	EffectiveOn time.Time
}

// RaisedBy says who raised a transfer or a termination.
type RaisedBy string

// Who raises a register case.
const (
	RaisedByPerson      RaisedBy = "person"      // the supported person (a transfer)
	RaisedByRelative    RaisedBy = "relative"    // a relative, often the carer (a transfer)
	RaisedByCommittee   RaisedBy = "committee"   // the village or community committee (村/居委会), through the township
	RaisedByInstitution RaisedBy = "institution" // the institution housing the person
	RaisedByTownship    RaisedBy = "township"    // the township's own finding
)

// RegisterCase is a transfer or termination to open on a running period
// of support. Reason is a TransferReason or a RegisterEndReason;
// EffectiveOn is the day a termination takes effect.
type RegisterCase struct {
	Type           CaseType
	PeriodID       int64
	RaisedBy       RaisedBy
	Reason         string
	EffectiveOn    *time.Time
	ApplicantName  string
	ApplicantPhone string
	ApplicantEmail string
	Statement      string
}

// RegisterCaseDetails is what a transfer or termination case is about, as
// officials read it.
type RegisterCaseDetails struct {
	PeriodID    int64      `json:"period_id"`
	RaisedBy    RaisedBy   `json:"raised_by"`
	Reason      string     `json:"reason"`
	EffectiveOn *time.Time `json:"effective_on,omitempty"`
}

// MayRaiseTermination decides whether actor may raise the end of entry's
// support, saying who raised it: a township official of the person's
// township (on the committee's report or the township's own finding),
// or the staff of the institution housing the person (as the
// institution).
func MayRaiseTermination(actor Actor, entry *RegisterEntry, by RaisedBy) error {
	switch actor.Role {
	case RoleTownshipOfficial:
		if by != RaisedByCommittee && by != RaisedByTownship {
			return Invalid(FieldError{Field: "raised_by", Reason: "a township official raises it as committee or township"})
		}
	case RoleInstitutionStaff:
		if by != RaisedByInstitution {
			return Invalid(FieldError{Field: "raised_by", Reason: "institution staff raise it as institution"})
		}
	default:
		return Errorf(EFORBIDDEN, "role %s may not raise a termination", roleName(actor.Role))
	}
	if !InJurisdiction(actor, entry.Scope()) {
		return Errorf(EFORBIDDEN, "this register entry is outside your jurisdiction")
	}
	return nil
}
