package civicflow

// Timeline steps the workflows record by themselves. They share the Action
// type with the official actions because both name a timeline entry (the
// event's action) and both are matched by NoticesFor; unlike official
// actions they are never Temporal updates and Authorize refuses them.
// Stored in every timeline: never rename one.
const (
	StepSubmitted              Action = "submitted"                // the workflow took the application in
	StepEconomicCheckCompleted Action = "economic_check_completed" // the verification platform answered
	StepPublicNoticeStarted    Action = "public_notice_started"    // 公示 posted
	StepPublicNoticeEnded      Action = "public_notice_ended"      // 公示 over without objection
	StepBedAllocated           Action = "bed_allocated"            // a bed of the right care level was found
	StepWaitlisted             Action = "waitlisted"               // no bed free: the case waits in order
	StepReviewOverdue          Action = "review_overdue"           // a rehab plan's review fell due unrecorded
	StepDeadlineReminder       Action = "deadline_reminder"        // a share of the stage's time passed; officials reminded
	StepDeadlineBreached       Action = "deadline_breached"        // the stage is overdue; supervisors alerted
	StepDeadlineClockStopped   Action = "deadline_clock_stopped"   // the clock stopped while the applicant is asked for papers
	// StepNoticeNotSent is recorded by the outbox, not by a workflow: a
	// notice to the applicant had no channel, and the township must
	// deliver it on paper or in person.
	StepNoticeNotSent Action = "notice_not_sent"
)

// SystemSteps lists the steps workflows record by themselves, for the
// vocabulary and its tests.
var SystemSteps = []Action{
	StepSubmitted, StepEconomicCheckCompleted, StepPublicNoticeStarted, StepPublicNoticeEnded,
	StepBedAllocated, StepWaitlisted, StepReviewOverdue, StepDeadlineReminder, StepDeadlineBreached,
	StepDeadlineClockStopped, StepNoticeNotSent,
}

// Timeline entries of supervisors (docs/deadlines.md): they change no stage.
const (
	StepSupervisoryNote    Action = "supervisory_note"
	StepSupervisorReminder Action = "supervisor_reminder"
	StepReassigned         Action = "reassigned"
)
