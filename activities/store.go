package activities

import (
	"context"
	"time"

	"civicflow"
)

// Store is what the activities need of the read model (postgres.DB
// implements it). It is an interface so that this package, which
// workflows import to name activities, does not bring the store and its
// driver into the workflows' dependencies (a test in the root package
// checks that).
type Store interface {
	// Case steps.
	RecordTransition(ctx context.Context, t civicflow.Transition) error
	RecordRehabStep(ctx context.Context, s civicflow.RehabStep) error
	RecordAward(ctx context.Context, w civicflow.AwardWrite) error
	// The register (issue 18).
	EnterDispersed(ctx context.Context, w civicflow.DispersedWrite) error
	EndSupport(ctx context.Context, w civicflow.TerminationWrite) (*civicflow.Departure, error)
	RecordDeadlineEvent(ctx context.Context, e civicflow.DeadlineEvent) error

	// The household check.
	PersonIDNumber(ctx context.Context, caseID int64) (string, error)
	SaveCheckResult(ctx context.Context, caseID int64, round int, r civicflow.CheckResult) error

	// Beds.
	AllocateBed(ctx context.Context, caseID int64, level civicflow.CareLevel, district string) (*civicflow.Placement, error)
	ConfirmAdmission(ctx context.Context, allocationID int64, t civicflow.Transition) error
	ReleaseBed(ctx context.Context, allocationID int64, t civicflow.Transition) (*civicflow.Departure, error)
	ReleaseAllocation(ctx context.Context, r civicflow.Release) (*civicflow.Departure, error)

	// Stage clocks.
	CalendarBetween(ctx context.Context, from, to time.Time) (civicflow.Calendar, error)
	ResolveDeadline(ctx context.Context, caseType civicflow.CaseType, stage, district string) (civicflow.DeadlineRule, error)

	// Campaigns over the register (campaign.go).
	CreateTaskChunk(ctx context.Context, ch civicflow.TaskChunk) (civicflow.TaskChunkResult, error)
	FinishTaskCreation(ctx context.Context, campaignID int64) (int, error)
	CloseCampaign(ctx context.Context, cl civicflow.CampaignClosing) (civicflow.CampaignSummary, error)

	// The notification outbox.
	ClaimNotification(ctx context.Context, id int64, lease time.Duration, domain string) (civicflow.ClaimOutcome, *civicflow.OutgoingNotification, error)
	Notification(ctx context.Context, id int64) (*civicflow.Notification, error)
	NotificationAddress(ctx context.Context, n *civicflow.Notification) (string, error)
	CommitNotification(ctx context.Context, id int64, token string, lease time.Duration) error
	MarkNotificationSent(ctx context.Context, id int64, token, reply string) error
	ReleaseNotification(ctx context.Context, id int64, token, lastError string) error
	FailNotification(ctx context.Context, id int64, token, lastError string) error
	UnconfirmNotification(ctx context.Context, id int64, token, lastError string) error
	GiveUpNotification(ctx context.Context, id int64, reason string) (civicflow.NotificationState, error)
}
