package civicflow

import "time"

// Channel is how a notification reaches its recipient.
type Channel string

// Channels. SMS is a seam: no SMS sender exists yet (docs/notifications.md).
const (
	ChannelEmail Channel = "email"
	ChannelSMS   Channel = "sms"
	ChannelNone  Channel = "none" // the recipient has no channel we can use
)

// NotificationState is where a notification stands in the outbox.
type NotificationState string

// Outbox states. Sent, Failed, Unconfirmed and NoChannel are final until a
// supervisor retries a failed or unconfirmed one.
const (
	NotificationPending     NotificationState = "pending"     // waiting to be sent (again)
	NotificationSending     NotificationState = "sending"     // an attempt holds it
	NotificationSent        NotificationState = "sent"        // the server accepted it
	NotificationFailed      NotificationState = "failed"      // permanently refused, or retries ran out before any hand-over
	NotificationUnconfirmed NotificationState = "unconfirmed" // handed over, but the answer was lost: maybe delivered, never resent by itself
	NotificationNoChannel   NotificationState = "no_channel"  // nothing to send it through; the case timeline says so
)

// Valid reports whether s is a known state.
func (s NotificationState) Valid() bool {
	switch s {
	case NotificationPending, NotificationSending, NotificationSent, NotificationFailed,
		NotificationUnconfirmed, NotificationNoChannel:
		return true
	}
	return false
}

// RecipientKind says who a notification is for.
type RecipientKind string

// Recipient kinds.
const (
	RecipientApplicant  RecipientKind = "applicant"
	RecipientOfficial   RecipientKind = "official"
	RecipientSupervisor RecipientKind = "supervisor"
)

// Template names a notification's content. Names are stored in the outbox:
// never rename one.
type Template string

// Templates, one per event someone must learn about.
const (
	TemplateApplicationReceived  Template = "application_received"
	TemplateSupplementsRequested Template = "supplements_requested"
	TemplateDecisionApproved     Template = "decision_approved"
	TemplateDecisionRejected     Template = "decision_rejected"
	TemplatePlacement            Template = "placement"
	TemplateAdmissionConfirmed   Template = "admission_confirmed"
	TemplateWithdrawalConfirmed  Template = "withdrawal_confirmed"
	TemplateCaseWaiting          Template = "case_waiting"
	TemplateReturnedToTownship   Template = "returned_to_township"
	TemplateEscalated            Template = "escalated"
)

// Templates lists every template, for tests and docs.
var Templates = []Template{
	TemplateApplicationReceived, TemplateSupplementsRequested, TemplateDecisionApproved,
	TemplateDecisionRejected, TemplatePlacement, TemplateAdmissionConfirmed,
	TemplateWithdrawalConfirmed, TemplateCaseWaiting, TemplateReturnedToTownship, TemplateEscalated,
}

// Notice is one notification a case step causes: a template for a kind of
// recipient; for officials, the role (in the case's jurisdiction) whose
// turn it now is.
type Notice struct {
	Template  Template
	Recipient RecipientKind
	Role      Role // officials only
}

// Time limits, in working days, that notices state until per-jurisdiction
// deadlines exist (issue 4).
const (
	NoticeRefusalWorkingDays       = 3  // written refusal with reasons, after the decision
	NoticeSupplementsWorkingDays   = 10 // for the applicant to bring the missing papers
	NoticeInvestigationWorkingDays = 15 // home visit and household check
	NoticeReviewWorkingDays        = 20 // district decision: the longest limit of the 10-20 range
)

// NoticeData is what a template may show. It is captured when the step is
// recorded and holds nothing the recipient may not see: the person's name
// masked, never an ID number, phone, income or health detail.
type NoticeData struct {
	Reference    string   `json:"reference"`
	CaseType     CaseType `json:"case_type,omitempty"` // "" in rows written before issue 5: centralised care
	Stage        Stage    `json:"stage"`
	Action       Action   `json:"action"`
	PersonName   string   `json:"person_name"` // masked (张**)
	District     string   `json:"district"`
	Township     string   `json:"township"`
	At           string   `json:"at"`                // the step's date, YYYY-MM-DD (China time)
	Due          string   `json:"due,omitempty"`     // by when the recipient must act (or the notice is due), YYYY-MM-DD
	Items        []string `json:"items,omitempty"`   // missing papers, all of them
	Reasons      string   `json:"reasons,omitempty"` // written reasons of a refusal or a return
	CareLevel    string   `json:"care_level,omitempty"`
	Institution  string   `json:"institution,omitempty"`
	Bed          string   `json:"bed,omitempty"`
	SupportStart string   `json:"support_start,omitempty"` // YYYY-MM-DD
	Amount       int      `json:"amount,omitempty"`        // an education grant's approved amount, CNY
	Role         Role     `json:"role,omitempty"`          // officials: the role asked to act
}

// Notification is one row of the outbox, as supervisors see it.
type Notification struct {
	ID            int64             `json:"id"`
	CaseID        int64             `json:"case_id"`
	CaseReference string            `json:"case_reference"`
	EventKey      string            `json:"event_key"`
	Template      Template          `json:"template"`
	Recipient     RecipientKind     `json:"recipient_kind"`
	UserID        int64             `json:"user_id,omitempty"`
	Channel       Channel           `json:"channel"`
	Locale        string            `json:"locale"`
	State         NotificationState `json:"state"`
	Attempts      int               `json:"attempts"`
	LastError     string            `json:"last_error,omitempty"`
	MessageID     string            `json:"message_id,omitempty"`
	Generation    int               `json:"generation"`
	DistrictCode  string            `json:"district_code"`
	TownshipCode  string            `json:"township_code"`
	CreatedAt     time.Time         `json:"created_at"`
	UpdatedAt     time.Time         `json:"updated_at"`
	SentAt        *time.Time        `json:"sent_at,omitempty"`
}

// ClaimOutcome says what claiming an outbox row for a sending attempt found.
type ClaimOutcome string

// Claim outcomes.
const (
	ClaimSend     ClaimOutcome = "send"     // the caller holds the row and must send it
	ClaimFinished ClaimOutcome = "finished" // sent, failed, unconfirmed or without channel: nothing to do
	ClaimBusy     ClaimOutcome = "busy"     // another attempt holds a live lease; try later
	ClaimInDoubt  ClaimOutcome = "in_doubt" // an attempt died after handing the message over; now unconfirmed, not resent
)

// OutgoingNotification is a claimed notification, ready to render and send.
type OutgoingNotification struct {
	Notification
	Data  NoticeData
	Token string // the claim; every later write must present it
}
