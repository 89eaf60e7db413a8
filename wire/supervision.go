package wire

import (
	"time"

	"civicflow"
)

// Supervision (督查) and administration: the requests of the supervisor's
// case forms and of the administrators' pages. Their list answers (overdue
// cases and counts, stage durations, stuck cases, users, the calendar)
// are still built from the store's types in package postgres and are not
// part of this package yet.

// ReassignRequest is the body of
// POST /api/v1/supervision/cases/{ref}/reassign: the official to make
// responsible for the case's current stage. It answers CaseDetail.
type ReassignRequest struct {
	UserID  int64  `json:"user_id" validate:"required,min=1"`
	Reasons string `json:"reasons" validate:"max=2000"`
}

// SupervisorNoteRequest is the body of
// POST /api/v1/supervision/cases/{ref}/notes (督办意见).
type SupervisorNoteRequest struct {
	Note string `json:"note" validate:"required,notblank,max=4000"`
}

// RemindRequest is the body of POST /api/v1/supervision/cases/{ref}/remind.
type RemindRequest struct {
	Note string `json:"note" validate:"max=2000"`
}

// CreateUserRequest is the body of POST /api/v1/admin/users.
type CreateUserRequest struct {
	Username      string `json:"username" validate:"required,max=64"`
	DisplayName   string `json:"display_name" validate:"required,notblank,max=64"`
	Password      string `json:"password" validate:"required,min=12,max=256"`
	Role          string `json:"role" validate:"required,oneof=township_official district_reviewer institution_staff rehab_assessor supervisor administrator"`
	Jurisdiction  string `json:"jurisdiction" validate:"required,numeric,min=6,max=9"`
	InstitutionID int64  `json:"institution_id" validate:"min=0"`
}

// RoleRequest is the body of POST /api/v1/admin/users/{id}/role.
type RoleRequest struct {
	Role          string `json:"role" validate:"required,oneof=township_official district_reviewer institution_staff rehab_assessor supervisor administrator"`
	Jurisdiction  string `json:"jurisdiction" validate:"required,numeric,min=6,max=9"`
	InstitutionID int64  `json:"institution_id" validate:"min=0"`
}

// PasswordRequest is the body of POST /api/v1/admin/users/{id}/password.
type PasswordRequest struct {
	Password string `json:"password" validate:"required,min=12,max=256"`
}

// CalendarDayRequest is the body of PUT /api/v1/admin/calendar/{date}: a
// holiday, or a weekend made a working day (调休).
type CalendarDayRequest struct {
	Kind string `json:"kind" validate:"required,oneof=holiday workday"`
	Name string `json:"name" validate:"max=64"`
}

// DeadlineRuleRequest is the body of
// PUT /api/v1/admin/deadlines/{jurisdiction}/{stage}: a stage's time limit
// in the city or a district. It answers the civicflow.DeadlineRule stored.
type DeadlineRuleRequest struct {
	CaseType      string   `json:"case_type" validate:"omitempty,oneof=centralised_care community_rehab education_grant"`
	Days          int      `json:"days" validate:"required,min=1,max=365"`
	Unit          string   `json:"unit" validate:"required,oneof=working_days calendar_days"`
	ReminderShare *float64 `json:"reminder_share" validate:"omitempty,gt=0,lt=1"`
}

// DeadlineRules answers GET /api/v1/admin/deadlines.
type DeadlineRules struct {
	Rules []civicflow.DeadlineRule `json:"rules"`
}

// CalendarGaps answers GET /api/v1/supervision/calendar-gaps: the years
// the open deadlines in the supervisor's area run into that have no
// holiday calendar loaded, earliest first (empty: none).
type CalendarGaps struct {
	Gaps []civicflow.CalendarGap `json:"gaps"`
	AsOf time.Time               `json:"as_of"`
}
