package civicflow

import "slices"

// A process is a definition (issue 15, docs/architecture.md): its stages,
// who may take each action in which stage, which actions need written
// reasons, the stages the workflow moves on by itself, the stages whose
// time limit a deadline rule sets, and who hears about each step. Every
// process shares the application pipeline (apply, township intake with
// the one-time list of missing papers, withdrawal, district review), so
// its definition is the pipeline's rules plus its ending's. Authorize,
// AllowedActions, ResponsibleRole and NoticesFor read these tables; the
// workflows check the same rules again in their update validators.

// Process is the definition of one process.
type Process struct {
	Type CaseType
	// Stages in process order; the terminal ones last.
	Stages []Stage
	// Rules say who may take each action, and in which stages.
	Rules []Rule
	// SystemStages are moved on by the workflow itself (a timer, a bed,
	// a review schedule): nobody is reminded of them.
	SystemStages []Stage
	// Clocked are the stages a deadline rule may limit (deadline_rules).
	Clocked []Stage
	// Notices say who hears about which step, beyond the pipeline's.
	Notices []NoticeRule
	// RaisedByOfficials: nobody applies (a termination is raised by the
	// township or the institution), so no notice goes to an applicant.
	RaisedByOfficials bool
}

// Rule says that Role may take Action while the case is in one of Stages.
type Rule struct {
	Action Action
	Role   Role
	Stages []Stage
	// Reasons: the action needs written reasons, which the applicant or
	// the township reads.
	Reasons bool
}

// NoticeRule says that a step of Action entering To ("" any stage)
// causes Notices.
type NoticeRule struct {
	Action  Action
	To      Stage
	Notices []Notice
}

func applicantNotice(t Template) Notice { return Notice{Template: t, Recipient: RecipientApplicant} }

func officialNotice(t Template, r Role) Notice {
	return Notice{Template: t, Recipient: RecipientOfficial, Role: r}
}

// pipelineRules are the shared pipeline's rules; withdraw names the
// stages in which the applicant of the process may still withdraw.
func pipelineRules(withdraw ...Stage) []Rule {
	return []Rule{
		{Action: ActionAccept, Role: RoleTownshipOfficial, Stages: []Stage{StageIntake}},
		{Action: ActionRequestSupplements, Role: RoleTownshipOfficial, Stages: []Stage{StageIntake}},
		{Action: ActionReject, Role: RoleTownshipOfficial, Stages: []Stage{StageIntake}, Reasons: true},
		{Action: ActionReject, Role: RoleDistrictReviewer, Stages: []Stage{StageDistrictReview}, Reasons: true},
		{Action: ActionProvideSupplements, Role: RoleApplicant, Stages: []Stage{StageAwaitingSupplements}},
		{Action: ActionWithdraw, Role: RoleApplicant, Stages: withdraw},
		{Action: ActionApprove, Role: RoleDistrictReviewer, Stages: []Stage{StageDistrictReview}},
		{Action: ActionReturn, Role: RoleDistrictReviewer, Stages: []Stage{StageDistrictReview}, Reasons: true},
	}
}

// pipelineNotices are the notices of the shared pipeline's steps.
var pipelineNotices = []NoticeRule{
	{StepSubmitted, StageIntake, []Notice{applicantNotice(TemplateApplicationReceived), officialNotice(TemplateCaseWaiting, RoleTownshipOfficial)}},
	{ActionRequestSupplements, "", []Notice{applicantNotice(TemplateSupplementsRequested)}},
	{ActionProvideSupplements, "", []Notice{officialNotice(TemplateCaseWaiting, RoleTownshipOfficial)}},
	{ActionReject, StageRejected, []Notice{applicantNotice(TemplateDecisionRejected)}},
	{ActionWithdraw, "", []Notice{applicantNotice(TemplateWithdrawalConfirmed)}},
	{ActionApprove, "", []Notice{applicantNotice(TemplateDecisionApproved)}},
	{ActionReturn, "", []Notice{officialNotice(TemplateReturnedToTownship, RoleTownshipOfficial)}},
}

var rehabOpen = []Stage{StageAssessment, StagePlanning, StageInRehab}

// processes is every process, in the order of the domain brief.
var processes = []Process{
	{
		Type: CaseTypeCentralisedCare,
		Stages: []Stage{StageSubmitted, StageIntake, StageAwaitingSupplements, StageInvestigation, StagePublicNotice,
			StageDistrictReview, StagePlacement, StageWaitlisted, StageAwaitingAdmission,
			StageCompleted, StageRejected, StageWithdrawn, StageDeparted},
		Rules: append(pipelineRules(StageIntake, StageAwaitingSupplements, StageInvestigation, StagePublicNotice, StageDistrictReview),
			Rule{Action: ActionRecordInvestigation, Role: RoleTownshipOfficial, Stages: []Stage{StageInvestigation}},
			Rule{Action: ActionLodgeObjection, Role: RoleTownshipOfficial, Stages: []Stage{StagePublicNotice}, Reasons: true},
			Rule{Action: ActionConfirmAdmission, Role: RoleInstitutionStaff, Stages: []Stage{StageAwaitingAdmission}},
			Rule{Action: ActionRecordDeparture, Role: RoleInstitutionStaff, Stages: []Stage{StageCompleted}},
			// Either side may learn first that the person will not come:
			// the institution holding the bed, or the district that placed
			// the case (issue 18).
			Rule{Action: ActionReleaseAllocation, Role: RoleInstitutionStaff, Stages: []Stage{StageAwaitingAdmission}, Reasons: true},
			Rule{Action: ActionReleaseAllocation, Role: RoleDistrictReviewer, Stages: []Stage{StageAwaitingAdmission}, Reasons: true},
		),
		SystemStages: []Stage{StagePublicNotice, StagePlacement, StageWaitlisted},
		Clocked: []Stage{StageIntake, StageInvestigation, StagePublicNotice, StageDistrictReview,
			StagePlacement, StageWaitlisted, StageAwaitingAdmission},
		Notices: []NoticeRule{
			{ActionRecordInvestigation, StageRejected, []Notice{applicantNotice(TemplateDecisionRejected)}},
			{StepPublicNoticeEnded, StageDistrictReview, []Notice{officialNotice(TemplateCaseWaiting, RoleDistrictReviewer)}},
			{StepBedAllocated, StageAwaitingAdmission, []Notice{applicantNotice(TemplatePlacement), officialNotice(TemplateCaseWaiting, RoleInstitutionStaff)}},
			{ActionConfirmAdmission, StageCompleted, []Notice{applicantNotice(TemplateAdmissionConfirmed)}},
		},
	},
	{
		Type: CaseTypeCommunityRehab,
		Stages: []Stage{StageSubmitted, StageIntake, StageAwaitingSupplements, StageDistrictReview,
			StageRegistration, StageAssessment, StagePlanning, StageInRehab,
			StageClosed, StageReferred, StageRejected, StageWithdrawn},
		Rules: append(pipelineRules(StageIntake, StageAwaitingSupplements, StageDistrictReview, StageRegistration, StageAssessment, StagePlanning),
			Rule{Action: ActionRegister, Role: RoleRehabAssessor, Stages: []Stage{StageRegistration}},
			Rule{Action: ActionAssess, Role: RoleRehabAssessor, Stages: []Stage{StageAssessment}},
			Rule{Action: ActionAgreePlan, Role: RoleRehabAssessor, Stages: []Stage{StagePlanning}},
			Rule{Action: ActionRecordReview, Role: RoleRehabAssessor, Stages: []Stage{StageInRehab}},
			Rule{Action: ActionRecordSession, Role: RoleRehabAssessor, Stages: []Stage{StageInRehab}},
			Rule{Action: ActionClose, Role: RoleRehabAssessor, Stages: rehabOpen},
			Rule{Action: ActionRefer, Role: RoleRehabAssessor, Stages: rehabOpen},
		),
		// Reviews follow the plan's own schedule (review_overdue), not a
		// stage clock.
		SystemStages: []Stage{StageInRehab},
		Clocked:      []Stage{StageIntake, StageDistrictReview, StageRegistration, StageAssessment, StagePlanning},
		Notices: []NoticeRule{
			// Rehab has no investigation: the accepted case waits for the
			// district at once.
			{ActionAccept, StageDistrictReview, []Notice{officialNotice(TemplateCaseWaiting, RoleDistrictReviewer)}},
		},
	},
	{
		Type: CaseTypeEducationGrant,
		Stages: []Stage{StageSubmitted, StageIntake, StageAwaitingSupplements, StageVerification, StageDistrictReview,
			StageCompleted, StageRejected, StageWithdrawn},
		Rules: append(pipelineRules(StageIntake, StageAwaitingSupplements, StageVerification, StageDistrictReview),
			Rule{Action: ActionRecordVerification, Role: RoleTownshipOfficial, Stages: []Stage{StageVerification}},
		),
		Clocked: []Stage{StageIntake, StageVerification, StageDistrictReview},
		Notices: []NoticeRule{
			{ActionRecordVerification, StageRejected, []Notice{applicantNotice(TemplateDecisionRejected)}},
			{ActionRecordVerification, StageDistrictReview, []Notice{officialNotice(TemplateCaseWaiting, RoleDistrictReviewer)}},
		},
	},
	{
		// The transfer of a registered person from dispersed to centralised
		// support (register.go): the pipeline's intake, the township's
		// visit instead of an eligibility investigation, the district's
		// approval, then a bed as for a new case.
		Type: CaseTypeSupportTransfer,
		Stages: []Stage{StageSubmitted, StageIntake, StageAwaitingSupplements, StageInvestigation, StageDistrictReview,
			StagePlacement, StageWaitlisted, StageAwaitingAdmission, StageCompleted, StageRejected, StageWithdrawn},
		Rules: append(pipelineRules(StageIntake, StageAwaitingSupplements, StageInvestigation, StageDistrictReview),
			Rule{Action: ActionRecordTransferVisit, Role: RoleTownshipOfficial, Stages: []Stage{StageInvestigation}},
			Rule{Action: ActionConfirmAdmission, Role: RoleInstitutionStaff, Stages: []Stage{StageAwaitingAdmission}},
		),
		SystemStages: []Stage{StagePlacement, StageWaitlisted},
		Clocked: []Stage{StageIntake, StageInvestigation, StageDistrictReview, StagePlacement, StageWaitlisted,
			StageAwaitingAdmission},
		Notices: []NoticeRule{
			{ActionRecordTransferVisit, StageDistrictReview, []Notice{officialNotice(TemplateCaseWaiting, RoleDistrictReviewer)}},
		},
	},
	{
		// The termination of support (register.go): raised by officials
		// (on the committee's report, the institution's or their own), so
		// no applicant acts on it; the township reviews, the district
		// confirms, a public notice runs, and the period ends.
		Type:   CaseTypeSupportTermination,
		Stages: []Stage{StageSubmitted, StageIntake, StageDistrictReview, StagePublicNotice, StageCompleted, StageRejected},
		Rules: []Rule{
			{Action: ActionAccept, Role: RoleTownshipOfficial, Stages: []Stage{StageIntake}},
			{Action: ActionReject, Role: RoleTownshipOfficial, Stages: []Stage{StageIntake}, Reasons: true},
			{Action: ActionApprove, Role: RoleDistrictReviewer, Stages: []Stage{StageDistrictReview}},
			{Action: ActionReject, Role: RoleDistrictReviewer, Stages: []Stage{StageDistrictReview}, Reasons: true},
			{Action: ActionReturn, Role: RoleDistrictReviewer, Stages: []Stage{StageDistrictReview}, Reasons: true},
			{Action: ActionLodgeObjection, Role: RoleTownshipOfficial, Stages: []Stage{StagePublicNotice}, Reasons: true},
		},
		SystemStages:      []Stage{StagePublicNotice},
		Clocked:           []Stage{StageIntake, StageDistrictReview, StagePublicNotice},
		RaisedByOfficials: true,
	},
}

// Processes lists every process's definition.
func Processes() []Process { return slices.Clone(processes) }

// ProcessOf is the definition of process t; ok is false for an unknown
// process.
func ProcessOf(t CaseType) (Process, bool) {
	for _, p := range processes {
		if p.Type == t {
			return p, true
		}
	}
	return Process{}, false
}

// rulesFor lists the rules of action in process t; for t "" (a caller
// that does not know the process, e.g. a list row) those of every process.
func rulesFor(t CaseType, action Action) []Rule {
	var out []Rule
	for _, p := range processes {
		if t != "" && p.Type != t {
			continue
		}
		for _, r := range p.Rules {
			if r.Action == action {
				out = append(out, r)
			}
		}
	}
	return out
}

// NeedsReasons reports whether role must give written reasons for action
// in process t.
func NeedsReasons(t CaseType, action Action, role Role) bool {
	for _, r := range rulesFor(t, action) {
		if r.Role == role && r.Reasons {
			return true
		}
	}
	return false
}

// ResponsibleRole is the role that must act on a case in a stage, as the
// rules give it: the official role that may act there, unless the
// workflow moves the stage on by itself or the case waits for the
// applicant. "" when nobody is responsible. Stages mean the same in every
// process, so the answer does not depend on it.
func ResponsibleRole(stage Stage) Role {
	if stage.Terminal() {
		return ""
	}
	for _, p := range processes {
		if slices.Contains(p.SystemStages, stage) {
			return ""
		}
	}
	for _, p := range processes {
		for _, r := range p.Rules {
			if r.Role != RoleApplicant && slices.Contains(r.Stages, stage) {
				return r.Role
			}
		}
	}
	return ""
}

// NoticesOf is NoticesFor for a step of a case of process t: a process
// nobody applies for (RaisedByOfficials) notifies no applicant.
func NoticesOf(t CaseType, action Action, to Stage) []Notice {
	notices := NoticesFor(action, to)
	if p, ok := ProcessOf(t); !ok || !p.RaisedByOfficials {
		return notices
	}
	var out []Notice
	for _, n := range notices {
		if n.Recipient != RecipientApplicant {
			out = append(out, n)
		}
	}
	return out
}

// NoticesFor says who must learn about a step: action is the step's action
// (an official Action or a system step, timeline.go), to the stage it
// enters. Steps nobody needs to hear about (the official's own work,
// timers) give nothing.
func NoticesFor(action Action, to Stage) []Notice {
	match := func(rs []NoticeRule) []Notice {
		for _, r := range rs {
			if r.Action == action && (r.To == "" || r.To == to) {
				return r.Notices
			}
		}
		return nil
	}
	if n := match(pipelineNotices); n != nil {
		return n
	}
	for _, p := range processes {
		if n := match(p.Notices); n != nil {
			return n
		}
	}
	return nil
}
