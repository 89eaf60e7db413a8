package civicflow

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Disbursement runs (发放批次, issue 19, docs/payments.md): the one path by
// which civicflow pays money. A run pays one programme for one year to
// everyone its rule selects on a cut-off date: one line per person,
// computed in chunks, confirmed by each district for its part (maker-
// checker), approved by the city, exported to the banks in batch files
// (代发文件) with control totals, and settled from the banks' return files.
// Failed and returned lines are re-issued by a follow-up run. A person is
// paid at most once per programme and year, across runs: a constraint
// (payment_lines_once), not a check in Go.

// Programme is what a run pays. Stored and sent to workflows: never change
// a value.
type Programme string

// Programmes.
const (
	// ProgrammeSpringFestival is the Spring Festival one-off allowance
	// (春节一次性生活补贴): one month's guarantee standard to every person
	// on the 低保 roll and every extremely poor person in the register.
	ProgrammeSpringFestival Programme = "spring_festival"
	// ProgrammeEducationGrant pays the education grants awarded and
	// awaiting payment (education.go) for an admission year.
	ProgrammeEducationGrant Programme = "education_grant"
)

// Programmes lists them.
var Programmes = []Programme{ProgrammeSpringFestival, ProgrammeEducationGrant}

// Valid reports whether p is a known programme.
func (p Programme) Valid() bool {
	return p == ProgrammeSpringFestival || p == ProgrammeEducationGrant
}

// PayeeGroup is who a line pays a person as.
type PayeeGroup string

// Payee groups. A programme's rule takes them in its order (PayeeGroupsOf):
// a person in two groups is paid once, as the first.
const (
	PayeeExtremelyPoor  PayeeGroup = "extremely_poor"  // in the register on the cut-off (特困)
	PayeeDibao          PayeeGroup = "dibao"           // on the 低保 roll on the cut-off
	PayeeEducationGrant PayeeGroup = "education_grant" // an award awaiting payment
)

// PayeeGroupsOf is a programme's rule: the groups it pays, in order, and
// for each the amount (PaymentRule). Rules are code, reviewed like code:
// a rule change is a new programme or a GetVersion'd change.
func PayeeGroupsOf(p Programme) []PayeeGroup {
	switch p {
	case ProgrammeSpringFestival:
		return []PayeeGroup{PayeeExtremelyPoor, PayeeDibao}
	case ProgrammeEducationGrant:
		return []PayeeGroup{PayeeEducationGrant}
	}
	return nil
}

// PaymentRule says, for people, how a group's amount is found.
func PaymentRule(g PayeeGroup) string {
	switch g {
	case PayeeExtremelyPoor:
		return "one month of the district's support standard in force on the cut-off date (support_standards)"
	case PayeeDibao:
		return "one month of the household's guarantee standard on the roll on the cut-off date"
	case PayeeEducationGrant:
		return "the award's amount"
	}
	return ""
}

// RunStage is where a run stands. Stored and a search attribute: never
// change a value.
type RunStage string

// Run stages, in order. Cancelled ends a run before export.
const (
	RunDefined     RunStage = "defined"
	RunComputing   RunStage = "computing"
	RunReview      RunStage = "review"   // districts confirm their part, the city approves
	RunApproved    RunStage = "approved" // waiting for the export
	RunExporting   RunStage = "exporting"
	RunExported    RunStage = "exported" // waiting for the banks' return files
	RunReconciling RunStage = "reconciling"
	RunReconciled  RunStage = "reconciled"
	RunCancelled   RunStage = "cancelled"
)

// RunStages lists the stages in order.
var RunStages = []RunStage{RunDefined, RunComputing, RunReview, RunApproved, RunExporting, RunExported,
	RunReconciling, RunReconciled, RunCancelled}

// Cancellable reports whether a run in s may still be cancelled (before
// export: once a bank has a file, the money is on its way).
func (s RunStage) Cancellable() bool {
	return s == RunDefined || s == RunComputing || s == RunReview || s == RunApproved
}

// Pausable reports whether a run in s may be paused: while it computes,
// or between computation and export.
func (s RunStage) Pausable() bool { return s.Cancellable() }

// Terminal reports whether a run in s is over.
func (s RunStage) Terminal() bool { return s == RunReconciled || s == RunCancelled }

// LineState is where a payment line stands. Stored: never change a value.
type LineState string

// Line states. A line moves forward only (a trigger enforces it).
const (
	LinePending   LineState = "pending"  // computed, not yet in a bank file
	LineExported  LineState = "exported" // in a bank file
	LinePaid      LineState = "paid"
	LineFailed    LineState = "failed"   // the bank could not pay (reason)
	LineReturned  LineState = "returned" // paid, then returned (account closed …)
	LineCancelled LineState = "cancelled"
)

// Reissuable reports whether a line in s is re-issued by a follow-up run.
func (s LineState) Reissuable() bool { return s == LineFailed || s == LineReturned }

// RunAction is what is done on a run. Those that are updates of the run's
// workflow are also its update names: never rename them.
type RunAction string

// Run actions.
const (
	RunDefine          RunAction = "define_run"
	RunConfirmDistrict RunAction = "confirm_district"
	RunApprove         RunAction = "approve_run"
	RunPause           RunAction = "pause_run"
	RunResume          RunAction = "resume_run"
	RunCancel          RunAction = "cancel_run"
	RunExport          RunAction = "export_run"
	RunImportReturn    RunAction = "import_bank_return"
	RunRead            RunAction = "read_run"
	RollImport         RunAction = "import_roll"
)

// AuthorizeRun decides whether actor may do act on a run; district is the
// district part concerned (confirm and read), maker the user who defined
// the run (zero for define).
//
// Who does what (maker-checker): a city supervisor defines a run, pauses,
// resumes, cancels and exports it and imports the banks' return files;
// each district's reviewer confirms their district's part; another city
// supervisor, never the one who defined it, approves the whole. District
// reviewers and supervisors read their district's part; city supervisors
// read all. A district's reviewer or supervisor imports their district's
// 低保 roll.
func AuthorizeRun(actor Actor, act RunAction, district string, maker int64) error {
	city := actor.Role == RoleSupervisor && actor.Jurisdiction == CityCode
	switch act {
	case RunDefine, RunPause, RunResume, RunCancel, RunExport, RunImportReturn:
		if !city {
			return Errorf(EFORBIDDEN, "only a city supervisor may %s", act)
		}
		return nil
	case RunApprove:
		if !city {
			return Errorf(EFORBIDDEN, "only a city supervisor may %s", act)
		}
		if actor.UserID != 0 && actor.UserID == maker {
			return Errorf(EFORBIDDEN, "you defined this run: another city supervisor must approve it (maker-checker)")
		}
		return nil
	case RunConfirmDistrict:
		if actor.Role != RoleDistrictReviewer {
			return Errorf(EFORBIDDEN, "only the district's reviewer may confirm its part of a run")
		}
		if actor.Jurisdiction != district {
			return Errorf(EFORBIDDEN, "this part of the run is outside your district")
		}
		if actor.UserID != 0 && actor.UserID == maker {
			return Errorf(EFORBIDDEN, "you defined this run: you may not confirm it")
		}
		return nil
	case RunRead:
		if city {
			return nil
		}
		if actor.Role != RoleSupervisor && actor.Role != RoleDistrictReviewer {
			return Errorf(EFORBIDDEN, "role %s may not read payment runs", roleName(actor.Role))
		}
		if district == "" || actor.Jurisdiction != district {
			return Errorf(EFORBIDDEN, "this part of the run is outside your district")
		}
		return nil
	case RollImport:
		if actor.Role != RoleSupervisor && actor.Role != RoleDistrictReviewer {
			return Errorf(EFORBIDDEN, "role %s may not import the roll", roleName(actor.Role))
		}
		if actor.Jurisdiction != CityCode && actor.Jurisdiction != district {
			return Errorf(EFORBIDDEN, "this district's roll is outside your jurisdiction")
		}
		return nil
	}
	return Errorf(EINVALID, "unknown run action %q", act)
}

// NewRun is a run to define.
type NewRun struct {
	Programme Programme
	Year      int
	// CutOff is the day whose roll and register the run pays (China day).
	CutOff time.Time
	Title  string
	// FollowUpOf, when set, makes this a follow-up run: it re-issues the
	// failed and returned lines of that run and nothing else.
	FollowUpOf int64
	CreatedBy  Actor
	// IdempotencyKey makes a repeated define find the first.
	IdempotencyKey string
}

// Check validates the run's own fields (a follow-up's original is the
// store's to check).
func (n NewRun) Check() []FieldError {
	var bad []FieldError
	if !n.Programme.Valid() {
		bad = append(bad, FieldError{Field: "programme", Reason: "must be spring_festival or education_grant"})
	}
	if n.Year < 2000 || n.Year > 2100 {
		bad = append(bad, FieldError{Field: "year", Reason: "must be a year between 2000 and 2100"})
	}
	if n.CutOff.IsZero() {
		bad = append(bad, FieldError{Field: "cut_off", Reason: "is required (YYYY-MM-DD)"})
	} else if y := n.CutOff.Year(); y < n.Year-1 || y > n.Year {
		bad = append(bad, FieldError{Field: "cut_off", Reason: "must fall in the run's year or the year before it"})
	}
	switch t := strings.TrimSpace(n.Title); {
	case t == "":
		bad = append(bad, FieldError{Field: "title", Reason: "is required"})
	case utf8.RuneCountInString(t) > 200:
		bad = append(bad, FieldError{Field: "title", Reason: "must be at most 200 characters"})
	}
	if n.FollowUpOf < 0 {
		bad = append(bad, FieldError{Field: "follow_up_of", Reason: "must be a run's ID"})
	}
	return bad
}

// PaymentRun is a run as officials read it.
type PaymentRun struct {
	ID         int64     `json:"id"`
	Programme  Programme `json:"programme"`
	Year       int       `json:"year"`
	CutOff     time.Time `json:"cut_off"`
	Title      string    `json:"title"`
	FollowUpOf int64     `json:"follow_up_of,omitempty"`
	Stage      RunStage  `json:"stage"`
	Paused     bool      `json:"paused"`
	CreatedBy  string    `json:"created_by"`
	// CreatedByID is the maker: never the approver.
	CreatedByID int64     `json:"created_by_id"`
	CreatedAt   time.Time `json:"created_at"`
	// Progress counts the current stage's work (lines computed, exported,
	// reconciled) as the chunks commit it.
	ProgressDone  int64      `json:"progress_done"`
	ProgressTotal int64      `json:"progress_total"`
	LineCount     *int       `json:"line_count,omitempty"`
	TotalAmount   *int64     `json:"total_amount,omitempty"` // CNY
	ComputedAt    *time.Time `json:"computed_at,omitempty"`
	ApprovedBy    string     `json:"approved_by,omitempty"`
	ApprovedAt    *time.Time `json:"approved_at,omitempty"`
	ExportedAt    *time.Time `json:"exported_at,omitempty"`
	ReconciledAt  *time.Time `json:"reconciled_at,omitempty"`
	CancelledAt   *time.Time `json:"cancelled_at,omitempty"`
	CancelledBy   string     `json:"cancelled_by,omitempty"`
}

// RunDistrict is one district's part of a run.
type RunDistrict struct {
	DistrictCode string     `json:"district_code"`
	DistrictName string     `json:"district_name"`
	LineCount    int        `json:"line_count"`
	TotalAmount  int64      `json:"total_amount"` // CNY
	NoAccount    int        `json:"no_account"`   // eligible, no bank account: no line
	ConfirmedBy  string     `json:"confirmed_by,omitempty"`
	ConfirmedAt  *time.Time `json:"confirmed_at,omitempty"`
}

// LineCounts counts a run's lines by state, with their amounts (CNY).
type LineCounts struct {
	State  LineState `json:"state"`
	Lines  int       `json:"lines"`
	Amount int64     `json:"amount"`
}

// PaymentBatch is one bank's batch file of a run.
type PaymentBatch struct {
	ID          int64      `json:"id"`
	BankCode    string     `json:"bank_code"`
	BankName    string     `json:"bank_name"`
	BatchNo     string     `json:"batch_no"`
	LineCount   int        `json:"line_count"`
	TotalAmount int64      `json:"total_amount"` // CNY: the control total
	CompletedAt *time.Time `json:"completed_at,omitempty"`
	SHA256      string     `json:"sha256,omitempty"` // hex
	ReturnedAt  *time.Time `json:"returned_at,omitempty"`
}

// PaymentLine is one line as officials read it: name and account masked.
type PaymentLine struct {
	ID             int64      `json:"id"`
	PersonName     string     `json:"person_name"`
	IDNumberMasked string     `json:"id_number_masked"`
	Group          PayeeGroup `json:"payee_group"`
	DistrictCode   string     `json:"district_code"`
	TownshipCode   string     `json:"township_code"`
	Amount         int        `json:"amount"`
	BankCode       string     `json:"bank_code"`
	AccountMasked  string     `json:"account_masked"`
	State          LineState  `json:"state"`
	Reason         string     `json:"reason,omitempty"`
	Reissues       int64      `json:"reissues,omitempty"`
}

// RunWorkflowID is the ID of a run's workflow.
func RunWorkflowID(id int64) string { return "payment-run-" + strconv.FormatInt(id, 10) }

// RunChunk is one chunk of a run's work: the rows after After (a person's
// or a line's ID, by stage), at most Limit of them. Group is the payee
// group a computation chunk reads; BatchID the batch an export chunk
// writes; ReturnID the return file a reconciliation chunk applies.
type RunChunk struct {
	RunID    int64
	Group    PayeeGroup `json:",omitempty"`
	BatchID  int64      `json:",omitempty"`
	ReturnID int64      `json:",omitempty"`
	After    int64
	Limit    int
}

// RunChunkResult is what a chunk did: the rows it read (Read < Limit: the
// last chunk), those it wrote (fewer when an earlier attempt wrote them)
// and the last key read, the start of the next.
type RunChunkResult struct {
	Read    int
	Written int
	Last    int64
}

// RunStep is a stage change of a run, written by its workflow's activity:
// the stage, who moved it and when. Key makes a retry write nothing twice.
type RunStep struct {
	RunID    int64
	From, To RunStage
	Actor    Actor
	At       time.Time
	// District is the district a confirm_district step confirms.
	District string `json:",omitempty"`
	// Paused is the run's paused flag after the step (pause, resume).
	Paused bool `json:",omitempty"`
	Action RunAction
}

// Bank accounts (账号) as banks take them for batch payments: 16 to 19
// digits, the last a Luhn check digit (UnionPay debit cards).

// AccountReason says why s is not a bank account number, or "".
func AccountReason(s string) string {
	if len(s) < 16 || len(s) > 19 || !isDigits(s) {
		return "must be 16 to 19 digits"
	}
	if !luhn(s) {
		return "check digit does not match (Luhn)"
	}
	return ""
}

func luhn(s string) bool {
	sum := 0
	double := false
	for i := len(s) - 1; i >= 0; i-- {
		d := int(s[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// LuhnDigit is the check digit that makes body+digit pass AccountReason's
// check; tests and the demo make accounts with it.
func LuhnDigit(body string) byte {
	for d := byte('0'); d <= '9'; d++ {
		if luhn(body + string(d)) {
			return d
		}
	}
	return '0'
}

// MaskAccount shows the first and last four digits of an account.
func MaskAccount(s string) string {
	if len(s) < 9 {
		return strings.Repeat("*", len(s))
	}
	return s[:4] + strings.Repeat("*", len(s)-8) + s[len(s)-4:]
}

// FormatYuan writes an amount in whole CNY as banks' files do: "751.00".
func FormatYuan(cny int64) string { return strconv.FormatInt(cny, 10) + ".00" }

// ParseYuan reads an amount written as FormatYuan writes it ("751.00" or
// "751"); ok is false for anything else, fractions of a yuan included
// (allowances are whole yuan).
func ParseYuan(s string) (int64, bool) {
	s = strings.TrimSuffix(strings.TrimSuffix(s, ".00"), ".0")
	if s == "" || len(s) > 15 || !isDigits(s) {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// Roll import (低保名册).

// RollRelation is a member's relation to the head of the household.
type RollRelation string

// Relations, as the roll writes them in Chinese and as stored.
const (
	RelationHead   RollRelation = "head"   // 户主
	RelationSpouse RollRelation = "spouse" // 配偶
	RelationChild  RollRelation = "child"  // 子女
	RelationParent RollRelation = "parent" // 父母
	RelationOther  RollRelation = "other"  // 其他
)

// RollRow is one valid row of a roll file: one member of a household.
type RollRow struct {
	Line            int // the file's row number, for error reports
	HouseholdNo     string
	TownshipCode    string
	Name            string
	IDNumber        IDNumber
	Relation        RollRelation
	MonthlyStandard int // CNY per member
	BankCode        string
	Account         string
}

// RollError is one problem in a roll file: its row (1 is the header),
// the column, the value as given (ID numbers and accounts masked) and why.
type RollError struct {
	Row    int    `json:"row"`
	Column string `json:"column"`
	Value  string `json:"value"`
	Reason string `json:"reason"`
}

// RollImportResult is what an import did, or why it changed nothing.
type RollImportResult struct {
	ID           int64     `json:"id"`
	DistrictCode string    `json:"district_code"`
	FileName     string    `json:"file_name"`
	Format       string    `json:"format"`
	AsOf         time.Time `json:"as_of"`
	State        string    `json:"state"` // applied or rejected
	Rows         int       `json:"rows"`
	Households   int       `json:"households"`
	Members      int       `json:"members"`
	Added        int       `json:"added"`
	Ended        int       `json:"ended"`
	ErrorCount   int       `json:"error_count"`
	// Errors are the first problems (the whole list is the report file).
	Errors     []RollError `json:"errors,omitempty"`
	ImportedBy string      `json:"imported_by"`
	ImportedAt time.Time   `json:"imported_at"`
	// Repeated is true when this file had been imported already: the
	// answer is the first import's, and nothing changed.
	Repeated bool `json:"repeated"`
}

// Import states.
const (
	ImportApplied  = "applied"
	ImportRejected = "rejected"
)
