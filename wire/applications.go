package wire

import (
	"time"

	"civicflow"
)

// The applicant's side: POST /api/v1/applications (centralised care) and
// the routes under /api/v1/applications/{ref}, which take the case's
// access code in X-Access-Code.

// ApplicationRequest is the body of POST /api/v1/applications, an
// application for centralised support (特困人员集中供养).
type ApplicationRequest struct {
	Person    PersonInput    `json:"person" validate:"required"`
	Applicant ApplicantInput `json:"applicant" validate:"required"`
	Statement string         `json:"statement" validate:"max=2000"`
}

// PersonIdentity is who the person an application is for is and where
// they live, the same in every process: the household's registered
// township (户籍所在街道/乡镇) is the one that handles the case. Each
// process's person input embeds it; JSON and the validator's field names
// flatten it ("person.id_number").
type PersonIdentity struct {
	Name              string `json:"name" validate:"required,personname"`
	IDNumber          string `json:"id_number" validate:"required,idnumber"`
	Phone             string `json:"phone" validate:"omitempty,mobile"`
	HukouTownshipCode string `json:"hukou_township_code" validate:"required,len=9,numeric"`
	CommunityCode     string `json:"community_code" validate:"omitempty,len=12,numeric"`
	Address           string `json:"address" validate:"required,notblank,max=200"`
}

// PersonInput is the person who needs support.
type PersonInput struct {
	PersonIdentity
	SelfCare   string           `json:"self_care" validate:"required,oneof=self_care semi_dependent dependent"`
	Disability *DisabilityInput `json:"disability"`
}

// DisabilityInput is a disability certificate's kind and grade.
type DisabilityInput struct {
	Kind  string `json:"kind" validate:"required,oneof=intellectual mental physical visual hearing speech"`
	Grade int    `json:"grade" validate:"required,min=1,max=4"`
}

// ApplicantInput is who applies: the person, a relative, an agent or the
// community committee.
type ApplicantInput struct {
	Relation string `json:"relation" validate:"required,oneof=self relative agent community"`
	Name     string `json:"name" validate:"required_unless=Relation self,omitempty,personname"`
	Phone    string `json:"phone" validate:"omitempty,mobile"`
	Email    string `json:"email" validate:"omitempty,email,max=254"`
}

// Submitted answers an application of any process (201, or 200 when the
// same Idempotency-Key was sent before): the reference and the access
// code the applicant tracks the case with.
type Submitted struct {
	CaseID     int64           `json:"case_id"`
	Reference  string          `json:"reference"`
	AccessCode string          `json:"access_code"`
	Stage      civicflow.Stage `json:"stage"`
	Replayed   bool            `json:"replayed"`
	TrackURL   string          `json:"track_url"`
}

// ApplicantCase is what the applicant sees of their case
// (GET /api/v1/applications/{ref}, and the answer of supplements and
// withdraw): no officials' names, personal data masked, what is asked of
// them, and a dated history. Nothing clinical, whatever the process.
type ApplicantCase struct {
	Reference string `json:"reference"`
	// Type is the case's process: what the applicant is told of a stage
	// depends on it (a completed education grant is an award, not an
	// admission).
	Type           civicflow.CaseType   `json:"case_type"`
	Stage          civicflow.Stage      `json:"stage"`
	StageSince     time.Time            `json:"stage_since"`
	WaitingFor     []string             `json:"waiting_for"`
	PersonName     string               `json:"person_name"`
	IDNumberMasked string               `json:"id_number_masked"`
	CanWithdraw    bool                 `json:"can_withdraw"`
	Papers         []civicflow.Document `json:"papers"`
	Placement      *Placement           `json:"placement,omitempty"`
	SupportStart   *time.Time           `json:"support_start,omitempty"`
	// SupportForm is the form of support decided (centralised care):
	// dispersed support is at home, with no placement.
	SupportForm civicflow.SupportForm `json:"support_form,omitempty"`
	// Award is the education grant approved (nil before approval and in
	// other processes).
	Award   *ApplicantAward `json:"award,omitempty"`
	History []HistoryEntry  `json:"history"`
}

// ApplicantAward is what an applicant is told of an approved education
// grant: the amount, the admission year it is for and where it stands on
// its way to payment.
type ApplicantAward struct {
	Amount        int                  `json:"amount"`
	AdmissionYear int                  `json:"admission_year"`
	State         civicflow.AwardState `json:"state"`
}

// Placement is the institution and bed of a centralised-care case.
type Placement struct {
	Institution string              `json:"institution"`
	Bed         string              `json:"bed"`
	CareLevel   civicflow.CareLevel `json:"care_level"`
}

// Who made a history entry (HistoryEntry.By), named as the applicant
// knows them.
const (
	ByApplicant   = "applicant"
	ByTownship    = "street office / town"
	ByDistrict    = "district civil-affairs bureau"
	ByInstitution = "care institution"
	ByRehabCentre = "community rehab centre"
	BySystem      = "civicflow"
)

// HistoryEntry is one step of the applicant's history.
type HistoryEntry struct {
	At      time.Time       `json:"at"`
	Action  string          `json:"action"`
	Stage   civicflow.Stage `json:"stage"`
	By      string          `json:"by"` // one of the By* constants
	Reasons string          `json:"reasons,omitempty"`
}

// SupplementsRequest is the body of
// POST /api/v1/applications/{ref}/supplements: the papers handed in (already
// uploaded) and a note.
type SupplementsRequest struct {
	DocumentIDs []int64 `json:"document_ids" validate:"max=50"`
	Note        string  `json:"note" validate:"max=2000"`
}

// WithdrawRequest is the body of POST /api/v1/applications/{ref}/withdraw.
type WithdrawRequest struct {
	Reasons string `json:"reasons" validate:"max=2000"`
}

// Jurisdictions answers GET /api/v1/jurisdictions: the city, its
// districts and counties, street offices and towns, communities and
// villages.
type Jurisdictions struct {
	Jurisdictions []civicflow.Jurisdiction `json:"jurisdictions"`
}
