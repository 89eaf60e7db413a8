package civicflow

import "strings"

// The vocabulary: the one table of the names people read for stages,
// actions, timeline steps and processes, in Chinese and English. The
// console (web/) and the mails (notify/) both take their names from here,
// so a stage is called the same on the screen and in the letter. Why each
// wording was chosen: docs/console.md, "Names for people".
//
// One wording per stage, whatever the process: the applicant's answer and
// the officials' lists carry a stage but no case type, so a name that
// depended on the process could not be shown the same everywhere.

// Lang is a language people read civicflow in.
type Lang string

// Languages of the vocabulary. Chinese is the default.
const (
	LangZH Lang = "zh"
	LangEN Lang = "en"
)

// ParseLang maps a locale ("zh", "zh-CN", "en", "en-GB" …) to a Lang;
// anything not English is Chinese, the default.
func ParseLang(locale string) Lang {
	l := strings.ToLower(locale)
	if l == "en" || strings.HasPrefix(l, "en-") || strings.HasPrefix(l, "en_") {
		return LangEN
	}
	return LangZH
}

// names is one entry of the vocabulary.
type names struct{ zh, en string }

// in returns the name in l, or code when the entry is missing.
func (n names) in(l Lang, code string) string {
	s := n.zh
	if l == LangEN {
		s = n.en
	}
	if s == "" {
		return code
	}
	return s
}

// Label is the stage's name for people in l; an unknown stage is named by
// its code.
func (s Stage) Label(l Lang) string { return stageNames[s].in(l, string(s)) }

// Label is the name for people in l of an action or of a timeline step
// (timeline.go); an unknown one is named by its code.
func (a Action) Label(l Lang) string { return actionNames[a].in(l, string(a)) }

// Label is the process's name for people in l; an unknown one is named by
// its code.
func (t CaseType) Label(l Lang) string { return caseTypeNames[t].in(l, string(t)) }

// DeadlineLabel names a deadline rule's key (DeadlineRule.Stage): a stage,
// or DeadlineRefusalNotice.
func DeadlineLabel(key string, l Lang) string {
	if key == DeadlineRefusalNotice {
		return names{"不予批准书面告知", "Written refusal notice"}.in(l, key)
	}
	return Stage(key).Label(l)
}

// stageNames is read-only.
var stageNames = map[Stage]names{
	StageSubmitted:           {"已提交", "Submitted"},
	StageIntake:              {"受理审查", "Intake check"},
	StageAwaitingSupplements: {"待补正材料", "Waiting for missing papers"},
	StageInvestigation:       {"入户调查", "Home investigation"},
	StagePublicNotice:        {"公示", "Public notice"},
	StageDistrictReview:      {"区县审核确认", "District review"},
	StagePlacement:           {"安排供养机构", "Arranging a care institution"},
	StageWaitlisted:          {"轮候床位", "Waiting list for a bed"},
	StageAwaitingAdmission:   {"待入住", "Awaiting admission"},
	StageCompleted:           {"已办结", "Completed"},
	StageRejected:            {"不予批准", "Not approved"},
	StageWithdrawn:           {"已撤回", "Withdrawn"},
	StageDeparted:            {"已离院", "Left the institution"},
	StageRegistration:        {"登记建档", "Registration"},
	StageAssessment:          {"康复评估", "Rehab assessment"},
	StagePlanning:            {"制定康复计划", "Rehab planning"},
	StageInRehab:             {"康复服务中", "In rehabilitation"},
	StageClosed:              {"已结案", "Closed"},
	StageReferred:            {"已转介", "Referred"},
	StageVerification:        {"家庭状况及入学核实", "Family and enrolment check"},
}

// actionNames is read-only: official actions, then the steps the system
// and supervisors record.
var actionNames = map[Action]names{
	ActionAccept:              {"受理", "Accept"},
	ActionRequestSupplements:  {"一次性告知补正", "Ask for missing papers"},
	ActionReject:              {"不予批准", "Refuse"},
	ActionProvideSupplements:  {"提交补正材料", "Hand in missing papers"},
	ActionWithdraw:            {"撤回申请", "Withdraw the application"},
	ActionRecordInvestigation: {"记录入户调查", "Record the investigation"},
	ActionLodgeObjection:      {"登记公示异议", "Record an objection"},
	ActionApprove:             {"审核批准", "Approve"},
	ActionReturn:              {"退回街道（乡镇）", "Return to the township"},
	ActionConfirmAdmission:    {"确认入住", "Confirm admission"},
	ActionRecordDeparture:     {"登记离院", "Record departure"},
	ActionReleaseAllocation:   {"入住前释放床位", "Release the bed before admission"},
	ActionRegister:            {"登记建档", "Register"},
	ActionAssess:              {"记录康复评估", "Record the assessment"},
	ActionAgreePlan:           {"确认康复计划", "Agree the plan"},
	ActionRecordReview:        {"记录定期评估", "Record a review"},
	ActionRecordSession:       {"记录服务出勤", "Record attendance"},
	ActionClose:               {"结案", "Close"},
	ActionRefer:               {"转介", "Refer"},
	ActionRecordVerification:  {"记录核实情况", "Record the verification"},
	ActionRecordTransferVisit: {"记录转集中供养走访", "Record the transfer visit"},

	StepSubmitted:              {"提交申请", "Application submitted"},
	StepEconomicCheckCompleted: {"家庭经济状况核对完成", "Household economic check finished"},
	StepPublicNoticeStarted:    {"开始公示", "Public notice posted"},
	StepPublicNoticeEnded:      {"公示期满", "Public notice ended"},
	StepBedAllocated:           {"安排床位", "Bed allocated"},
	StepWaitlisted:             {"进入轮候", "Put on the waiting list"},
	StepReviewOverdue:          {"定期评估超期", "Review overdue"},
	StepDeadlineReminder:       {"时限提醒", "Deadline reminder"},
	StepDeadlineBreached:       {"办理超期", "Overdue"},
	StepDeadlineClockStopped:   {"暂停计时", "Clock stopped"},
	StepSupervisoryNote:        {"督办意见", "Supervisory note"},
	StepSupervisorReminder:     {"督办提醒", "Supervisor's reminder"},
	StepReassigned:             {"指定经办人", "Reassigned"},
	StepNoticeNotSent:          {"通知未发送", "Notice not sent"},
}

// caseTypeNames is read-only.
var caseTypeNames = map[CaseType]names{
	CaseTypeCentralisedCare:    {"特困人员集中供养", "Centralised care for extremely poor persons"},
	CaseTypeCommunityRehab:     {"精神障碍社区康复", "Community rehabilitation for mental disorders"},
	CaseTypeEducationGrant:     {"教育资助", "Education grant"},
	CaseTypeSupportTransfer:    {"分散供养转集中供养", "Transfer from dispersed to centralised support"},
	CaseTypeSupportTermination: {"终止救助供养", "Termination of support"},
}
