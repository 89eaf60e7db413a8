package civicflow

import (
	"encoding/json"
	"time"
)

// JurisdictionLevel is a level of the administrative hierarchy.
type JurisdictionLevel string

// Levels below the city. Codes: district 6 digits, township 9, community 12,
// each extending its parent's code.
const (
	LevelCity      JurisdictionLevel = "city"
	LevelDistrict  JurisdictionLevel = "district"
	LevelTownship  JurisdictionLevel = "township"
	LevelCommunity JurisdictionLevel = "community"
)

// Jurisdiction is a city, district/county, street office/town or
// community/village.
type Jurisdiction struct {
	Code       string            `json:"code"`
	Name       string            `json:"name"`
	Level      JurisdictionLevel `json:"level"`
	ParentCode string            `json:"parent_code,omitempty"`
}

// DistrictOf returns the district code of a township or community code.
func DistrictOf(code string) string {
	if len(code) < 6 {
		return ""
	}
	return code[:6]
}

// Person is the resident a case is about. IDNumber and Phone are personal
// information: show them masked unless the viewer needs them.
type Person struct {
	ID           int64     `json:"id"`
	Name         string    `json:"name"`
	IDNumber     string    `json:"-"`
	BirthDate    time.Time `json:"birth_date"`
	Male         bool      `json:"male"`
	Phone        string    `json:"-"`
	TownshipCode string    `json:"hukou_township_code"`
}

// Application is what the applicant submits.
type Application struct {
	Person         Person
	CommunityCode  string
	Address        string
	Relation       Relation
	ApplicantName  string
	ApplicantPhone string
	ApplicantEmail string
	SelfCare       CareLevel // as the applicant reports it; investigation confirms
	// Type is the process applied for; "" means centralised care.
	Type CaseType
	// Rehab is set for community rehab (CaseTypeCommunityRehab).
	Rehab *RehabApplication
	// Education is set for the education grant (CaseTypeEducationGrant).
	Education  *EducationApplication
	Disability *Disability
	Statement  string
}

// Disability is a certified disability (残疾人证).
type Disability struct {
	Kind  DisabilityKind `json:"kind"`
	Grade int            `json:"grade"`
}

// Case is the read model of one application, as kept in PostgreSQL.
type Case struct {
	ID             int64     `json:"id"`
	Reference      string    `json:"reference"`
	Type           CaseType  `json:"case_type"`
	Stage          Stage     `json:"stage"`
	WorkflowID     string    `json:"workflow_id"`
	PersonID       int64     `json:"person_id"`
	PersonName     string    `json:"person_name"`
	IDNumberMasked string    `json:"id_number_masked"`
	PhoneMasked    string    `json:"phone_masked,omitempty"`
	BirthDate      time.Time `json:"birth_date"`
	DistrictCode   string    `json:"district_code"`
	TownshipCode   string    `json:"township_code"`
	CommunityCode  string    `json:"community_code"`
	Address        string    `json:"address"`
	Relation       Relation  `json:"relation"`
	ApplicantName  string    `json:"applicant_name"`
	SelfCare       CareLevel `json:"reported_self_care"`
	CareLevel      CareLevel `json:"care_level,omitempty"`
	// Disability is sealed at rest and not read into the case: see
	// DisabilityRecorded, and the audited reveal for the details.
	Disability         *Disability `json:"disability,omitempty"`
	DisabilityRecorded bool        `json:"disability_recorded"`
	Statement          string      `json:"statement"`
	WaitingFor         []string    `json:"waiting_for"`
	InstitutionID      int64       `json:"institution_id,omitempty"`
	BedID              int64       `json:"bed_id,omitempty"`
	AllocationID       int64       `json:"allocation_id,omitempty"`
	SupportStart       *time.Time  `json:"support_start,omitempty"`
	NoticeEndsAt       *time.Time  `json:"notice_ends_at,omitempty"`
	Seq                int         `json:"version"`
	StageEnteredAt     time.Time   `json:"stage_entered_at"`
	// StageDueAt is when the current stage is due (issue 4); nil: no
	// limit, the clock is stopped (waiting for the applicant) or closed.
	StageDueAt *time.Time `json:"stage_due_at,omitempty"`
	// AssignedUserID is the official a supervisor made responsible; 0:
	// every official of the role in the case's jurisdiction.
	AssignedUserID int64 `json:"assigned_user_id,omitempty"`
	// RehabCentreID is the centre holding a community-rehab case (0: none yet).
	RehabCentreID int64 `json:"rehab_centre_id,omitempty"`
	// SupportForm is the form of support the district recorded for a
	// centralised-care case once decided ("" before).
	SupportForm SupportForm `json:"support_form,omitempty"`
	CreatedAt   time.Time   `json:"created_at"`
	UpdatedAt   time.Time   `json:"updated_at"`
}

// Scope returns the authorisation scope of the case.
func (c *Case) Scope() Scope {
	return Scope{CaseID: c.ID, CaseType: c.Type, Stage: c.Stage, DistrictCode: c.DistrictCode,
		TownshipCode: c.TownshipCode, InstitutionID: c.InstitutionID, RehabCentreID: c.RehabCentreID}
}

// Event is one entry of a case's append-only timeline.
type Event struct {
	ID        int64           `json:"id"`
	CaseID    int64           `json:"-"`
	Key       string          `json:"-"`
	Action    Action          `json:"action"`
	FromStage Stage           `json:"from_stage,omitempty"`
	ToStage   Stage           `json:"to_stage"`
	Actor     Actor           `json:"actor"`
	Reasons   string          `json:"reasons,omitempty"`
	Details   json.RawMessage `json:"details,omitempty"`
	At        time.Time       `json:"at"`
}

// Document is a paper attached to a case. The content is kept apart.
type Document struct {
	ID          int64     `json:"id"`
	CaseID      int64     `json:"-"`
	Filename    string    `json:"filename"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"`
	UploadedBy  string    `json:"uploaded_by"`
	CreatedAt   time.Time `json:"created_at"`
}

// MaxDocumentSize is the largest paper accepted (10 MiB).
const MaxDocumentSize = 10 << 20

// DocumentTypes are the content types accepted for papers, detected from
// the content, never from the file name.
var DocumentTypes = []string{"application/pdf", "image/jpeg", "image/png"}

// User is an official's account.
type User struct {
	ID            int64  `json:"id"`
	Username      string `json:"username"`
	DisplayName   string `json:"display_name"`
	Role          Role   `json:"role"`
	Jurisdiction  string `json:"jurisdiction"`
	InstitutionID int64  `json:"institution_id,omitempty"`
	RehabCentreID int64  `json:"rehab_centre_id,omitempty"`
}

// Actor returns the user as an acting official.
func (u *User) Actor() Actor {
	return Actor{UserID: u.ID, Username: u.Username, Role: u.Role,
		Jurisdiction: u.Jurisdiction, InstitutionID: u.InstitutionID, RehabCentreID: u.RehabCentreID}
}

// Institution is a designated care institution (供养机构).
type Institution struct {
	ID           int64             `json:"id"`
	Name         string            `json:"name"`
	DistrictCode string            `json:"district_code"`
	Beds         map[CareLevel]int `json:"beds"`
	FreeBeds     map[CareLevel]int `json:"free_beds"`
}

// Allocation is a bed held by a case.
type Allocation struct {
	ID            int64      `json:"id"`
	CaseID        int64      `json:"case_id"`
	BedID         int64      `json:"bed_id"`
	BedLabel      string     `json:"bed_label"`
	InstitutionID int64      `json:"institution_id"`
	Institution   string     `json:"institution"`
	CareLevel     CareLevel  `json:"care_level"`
	AllocatedAt   time.Time  `json:"allocated_at"`
	AdmittedAt    *time.Time `json:"admitted_at,omitempty"`
	ReleasedAt    *time.Time `json:"released_at,omitempty"`
}

// CheckResult is the answer of the city's household economic verification
// platform (家庭经济状况核对).
type CheckResult struct {
	Found               bool    `json:"found"`
	MonthlyIncomePerCap float64 `json:"monthly_income_per_capita"`
	AssetsWithinLimit   bool    `json:"assets_within_limit"`
	HasAbleSupporter    bool    `json:"has_able_supporter"`
	MinimumLivingLine   float64 `json:"minimum_living_line"`
	Eligible            bool    `json:"eligible"`
	Reference           string  `json:"reference"`
	Note                string  `json:"note,omitempty"`
	// AssistanceStatus is the assistance the household receives as the
	// platform records it (低保, 低保边缘, 特困), for the education grant's
	// verification; "" when none or not reported.
	AssistanceStatus FamilyStatus `json:"assistance_status,omitempty"`
}
