package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"civicflow"
)

// CommunityRehab runs one application for community rehabilitation of a
// person with a mental disorder (精神障碍社区康复): the shared pipeline
// (pipeline.go: intake, district review) and the rehab ending — the
// district names its rehab centre, which registers the person (登记建档),
// assesses them, agrees a plan with the patient or guardian and reviews it
// every ReviewInterval (90 days by default) until the case closes (结案) or
// is referred (转介). A case runs for years, so after ReviewsPerRun reviews
// (or when Temporal suggests it) the run continues as new, carrying its
// state, its review schedule and the attendance signals it had received.
func CommunityRehab(ctx workflow.Context, in CommunityRehabInput) (CaseState, error) {
	if in.ReviewsPerRun <= 0 {
		in.ReviewsPerRun = DefaultReviewsPerRun
	}
	p := &pipeline{caseID: in.CaseID, caseType: civicflow.CaseTypeCommunityRehab, district: in.DistrictCode,
		township: in.TownshipCode, mu: workflow.NewMutex(ctx), deadlines: true, clockInStep: true,
		stageAttrs: StageAttributes(in.StageSearchAttributes)}
	c := &rehabCase{pipeline: p, in: in}
	p.end = c
	if in.Carry != nil {
		p.rec.state, p.deadlines = in.Carry.State, in.Carry.Deadlines
		p.rec.state.Rehab.ReviewsThisRun = 0
		p.rec.state.Rehab.Runs++
	} else {
		p.rec.state = CaseState{CaseID: in.CaseID, Stage: civicflow.StageSubmitted, WaitingFor: []string{}, Rehab: &RehabState{}}
	}
	ctx = workflow.WithActivityOptions(ctx, recordOptions)
	if err := p.register(ctx); err != nil {
		return p.rec.state, err
	}
	sessions := workflow.GetSignalChannel(ctx, SignalRehabSession)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var s RehabSession
			if !sessions.Receive(ctx, &s) {
				return
			}
			c.addSession(ctx, s)
		}
	})
	if p.deadlines {
		workflow.Go(ctx, p.watchDeadline)
	}
	if in.Carry == nil {
		if err := p.step(ctx, step{action: civicflow.StepSubmitted, to: civicflow.StageIntake, actor: civicflow.SystemActor}); err != nil {
			return p.rec.state, err
		}
	}
	for !p.over() {
		if p.state().Stage != civicflow.StageInRehab {
			stage := p.state().Stage
			if err := workflow.Await(ctx, func() bool { return p.state().Stage != stage || p.over() }); err != nil {
				return p.rec.state, err
			}
			continue
		}
		again, err := c.reviewCycle(ctx)
		if err != nil {
			return p.rec.state, err
		}
		if !again {
			continue
		}
		// Continue as new: running update handlers finish first (their
		// steps are part of this run), then the attendance signals still
		// buffered are counted, so that nothing is lost at the boundary.
		if err := p.awaitHandlers(ctx); err != nil {
			return p.rec.state, err
		}
		if p.state().Stage != civicflow.StageInRehab {
			continue // an action closed or transferred the case meanwhile
		}
		c.drainSessions(ctx)
		next := c.in
		next.Carry = &RehabCarry{State: p.rec.state, Deadlines: p.deadlines, Runs: p.rec.state.Rehab.Runs}
		return p.rec.state, workflow.NewContinueAsNewError(ctx, CommunityRehabWorkflow, next)
	}
	if err := p.awaitHandlers(ctx); err != nil {
		return p.rec.state, err
	}
	return p.rec.state, nil
}

// rehabCase is the rehab ending of the pipeline.
type rehabCase struct {
	*pipeline
	in CommunityRehabInput
}

// rehab is the rehab part of the case as the next decision sees it
// (pipeline.cur). Read it, never change it: steps change a clone.
func (c *rehabCase) rehab() *RehabState { return c.state().Rehab }

// reviewCycle waits for the next review of the plan. When it falls due
// without being recorded, the lateness is recorded once (it shows on the
// timeline and as the overdue date). It reports whether the run should
// continue as new.
func (c *rehabCase) reviewCycle(ctx workflow.Context) (bool, error) {
	r := c.rehab()
	done := r.ReviewsDone
	moved := func() bool { return c.state().Stage != civicflow.StageInRehab || c.rehab().ReviewsDone != done }
	if r.NextReviewDue != nil && r.OverdueNoted <= done {
		due := *r.NextReviewDue
		if d := due.Sub(workflow.Now(ctx)); d > 0 {
			// A durable timer: the wait survives worker restarts.
			if _, err := workflow.AwaitWithTimeout(ctx, d, moved); err != nil {
				return false, err
			}
		}
		if err := c.mu.Lock(ctx); err != nil {
			return false, err
		}
		if !moved() {
			err := c.stepLocked(ctx, step{action: civicflow.StepReviewOverdue, to: civicflow.StageInRehab, actor: civicflow.SystemActor,
				details: map[string]any{"review": done + 1, "due": due},
				edit:    func(st *CaseState) { st.Rehab.OverdueNoted = done + 1 }})
			if err != nil {
				c.mu.Unlock()
				return false, err
			}
		}
		c.mu.Unlock()
	}
	if err := workflow.Await(ctx, moved); err != nil {
		return false, err
	}
	if c.state().Stage != civicflow.StageInRehab {
		return false, nil
	}
	return c.rehab().ReviewsThisRun >= c.in.ReviewsPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested(), nil
}

// addSession counts one attendance signal. The API authorised it; the
// workflow checks again (a signal has no validator) and drops what does
// not fit the case now.
func (c *rehabCase) addSession(ctx workflow.Context, s RehabSession) {
	r := c.rehab()
	err := civicflow.Authorize(s.Actor, civicflow.ActionRecordSession, c.scope())
	if err == nil && !slices.ContainsFunc(r.Plan, func(it PlanItem) bool { return it.Service == s.Service }) {
		err = fmt.Errorf("service %s is not in the plan", s.Service)
	}
	if err == nil && (s.Sessions < 1 || s.Sessions > 50) {
		err = fmt.Errorf("sessions %d out of range", s.Sessions)
	}
	if err == nil && s.Key != "" && slices.Contains(r.SessionKeys, s.Key) {
		err = fmt.Errorf("attendance %q was counted already", s.Key)
	}
	if err != nil {
		workflow.GetLogger(ctx).Warn("attendance signal dropped", "error", err)
		return
	}
	// Counted in the recorded case and in a step's proposal alike, so that
	// a step in flight does not undo it when it commits.
	c.edit(func(t *tracked) { countSession(t.state.Rehab, s) })
}

// countSession adds one attendance signal to r.
func countSession(r *RehabState, s RehabSession) {
	if s.Key != "" {
		r.SessionKeys = append(r.SessionKeys, s.Key)
		if len(r.SessionKeys) > sessionKeysKept {
			r.SessionKeys = r.SessionKeys[len(r.SessionKeys)-sessionKeysKept:]
		}
	}
	r.SessionSignals++
	for i := range r.Sessions {
		if r.Sessions[i].Service == s.Service {
			r.Sessions[i].Sessions += s.Sessions
			return
		}
	}
	r.Sessions = append(r.Sessions, SessionCount{Service: s.Service, Sessions: s.Sessions})
}

// drainSessions counts the attendance signals received but not yet read.
func (c *rehabCase) drainSessions(ctx workflow.Context) {
	ch := workflow.GetSignalChannel(ctx, SignalRehabSession)
	for {
		var s RehabSession
		if !ch.ReceiveAsync(&s) {
			return
		}
		c.addSession(ctx, s)
	}
}

func (c *rehabCase) actions() []civicflow.Action {
	return []civicflow.Action{civicflow.ActionRegister, civicflow.ActionAssess, civicflow.ActionAgreePlan,
		civicflow.ActionRecordReview, civicflow.ActionClose, civicflow.ActionRefer}
}

func (c *rehabCase) check(act civicflow.Action, req ActionRequest) []civicflow.FieldError {
	var bad []civicflow.FieldError
	add := func(field, reason string) { bad = append(bad, civicflow.FieldError{Field: field, Reason: reason}) }
	switch act {
	case civicflow.ActionApprove:
		if req.RehabCentreID <= 0 {
			add("rehab_centre_id", "name the district's rehab centre")
		}
		return bad
	case civicflow.ActionRegister, civicflow.ActionAssess, civicflow.ActionAgreePlan, civicflow.ActionRecordReview,
		civicflow.ActionClose, civicflow.ActionRefer:
	default:
		return nil
	}
	if req.Reasons != "" || req.Note != "" {
		// The centre's reasons are clinical: sealed in the record, never
		// on the timeline supervisors read.
		add("reasons", "give the centre's reasons in the sealed record, not on the timeline")
	}
	rq := req.Rehab
	if rq == nil {
		add("rehab", "is required")
		return bad
	}
	if strings.TrimSpace(rq.Sealed) == "" {
		add("rehab.record", "the clinical record is required")
	}
	r := c.rehab()
	switch act {
	case civicflow.ActionRegister:
		if strings.TrimSpace(rq.FileNumber) == "" {
			add("file_number", "is required")
		}
	case civicflow.ActionAssess:
		if rq.Suitable == nil {
			add("suitable", "is required: true or false")
		} else if *rq.Suitable {
			bad = append(bad, checkServices("services", rq.Services, nil)...)
		}
	case civicflow.ActionAgreePlan:
		bad = append(bad, checkPlan(rq.Plan, r.Services)...)
		if rq.AgreedBy != civicflow.ApplicantPatient && rq.AgreedBy != civicflow.ApplicantGuardian {
			add("agreed_by", "must be patient or guardian")
		}
		bad = append(bad, checkInterval(rq.ReviewIntervalDays)...)
	case civicflow.ActionRecordReview:
		var planned []civicflow.RehabService
		for _, it := range r.Plan {
			planned = append(planned, it.Service)
		}
		bad = append(bad, checkServices("reviewed", rq.Reviewed, nil)...)
		for _, s := range planned {
			if !slices.Contains(rq.Reviewed, s) {
				add("reviewed", "record progress for every service of the plan; missing "+string(s))
			}
		}
		for i, s := range rq.Reviewed {
			if s.Valid() && !slices.Contains(planned, s) {
				add(fmt.Sprintf("reviewed[%d]", i), "is not in the plan")
			}
		}
		if len(rq.Plan) > 0 {
			bad = append(bad, checkPlan(rq.Plan, r.Services)...)
		}
		bad = append(bad, checkInterval(rq.ReviewIntervalDays)...)
	case civicflow.ActionClose:
		if !rq.Closure.Valid() {
			add("closure", "must be goals_met, moved_away, withdrew or died")
		}
	case civicflow.ActionRefer:
		switch rq.ReferTo {
		case civicflow.ReferToHospital:
		case civicflow.ReferToCentre:
			if rq.CentreID <= 0 {
				add("centre_id", "name the centre the case moves to")
			} else if rq.CentreID == r.CentreID {
				add("centre_id", "is the centre holding the case")
			}
		default:
			add("refer_to", "must be hospital or centre")
		}
	}
	return bad
}

// checkServices validates a list of services: at least one, known, each
// once and, when allowed is not nil, among them.
func checkServices(field string, ss, allowed []civicflow.RehabService) []civicflow.FieldError {
	var bad []civicflow.FieldError
	if len(ss) == 0 {
		return []civicflow.FieldError{{Field: field, Reason: "name at least one service"}}
	}
	for i, s := range ss {
		f := fmt.Sprintf("%s[%d]", field, i)
		switch {
		case !s.Valid():
			bad = append(bad, civicflow.FieldError{Field: f, Reason: "is not one of the nine rehab services"})
		case slices.Contains(ss[:i], s):
			bad = append(bad, civicflow.FieldError{Field: f, Reason: "is listed twice"})
		case allowed != nil && !slices.Contains(allowed, s):
			bad = append(bad, civicflow.FieldError{Field: f, Reason: "was not recommended by the assessment"})
		}
	}
	return bad
}

func checkPlan(plan []PlanItem, recommended []civicflow.RehabService) []civicflow.FieldError {
	if len(plan) == 0 {
		return []civicflow.FieldError{{Field: "plan", Reason: "choose at least one service"}}
	}
	ss := make([]civicflow.RehabService, len(plan))
	var bad []civicflow.FieldError
	for i, it := range plan {
		ss[i] = it.Service
		if strings.TrimSpace(it.Frequency) == "" {
			bad = append(bad, civicflow.FieldError{Field: fmt.Sprintf("plan[%d].frequency", i), Reason: "is required"})
		}
		if _, err := time.Parse(time.DateOnly, it.StartDate); err != nil {
			bad = append(bad, civicflow.FieldError{Field: fmt.Sprintf("plan[%d].start_date", i), Reason: "must be a date YYYY-MM-DD"})
		}
	}
	for _, fe := range checkServices("plan", ss, recommended) {
		fe.Field = strings.Replace(fe.Field, "]", "].service", 1)
		bad = append(bad, fe)
	}
	return bad
}

func checkInterval(days int) []civicflow.FieldError {
	if days != 0 && (days < 7 || days > 365) {
		return []civicflow.FieldError{{Field: "review_interval_days", Reason: "must be between 7 and 365 days"}}
	}
	return nil
}

// planStart is the earliest start date of a plan, at midnight in China.
func planStart(plan []PlanItem) time.Time {
	var first time.Time
	for _, it := range plan {
		d, _ := time.ParseInLocation(time.DateOnly, it.StartDate, civicflow.ChinaZone())
		if first.IsZero() || d.Before(first) {
			first = d
		}
	}
	return first
}

// summary is the rehab part r of a case as the read model shows it.
func summary(r *RehabState) *civicflow.RehabSummary {
	return &civicflow.RehabSummary{CentreID: r.CentreID, RegisteredAt: r.RegisteredAt, AssessedAt: r.AssessedAt,
		PlanStart: r.PlanStart, ReviewIntervalDays: int(r.ReviewInterval / (24 * time.Hour)), ReviewsDone: r.ReviewsDone,
		NextReviewDue: r.NextReviewDue, ClosedAt: r.ClosedAt}
}

// next gives the step of an action. It changes a clone of the rehab state,
// which the step's edit puts into the proposal (see pipeline.rec): an
// action validated while the write is in flight sees the centre and plan
// the read model is about to show, and a failed write leaves the case as
// it was.
func (c *rehabCase) next(ctx workflow.Context, act civicflow.Action, req ActionRequest) (step, error) {
	s := step{action: act, actor: req.Actor, reasons: req.Reasons}
	r := c.rehab().clone()
	s.edit = func(st *CaseState) { st.Rehab = r }
	now := workflow.Now(ctx)
	record := func(kind string) {
		s.rehab = &civicflow.RehabStep{Record: &civicflow.RehabRecord{Kind: kind, Sealed: req.Rehab.Sealed}}
	}
	switch act {
	case civicflow.ActionAccept:
		// Rehab needs no home investigation or public notice: the district
		// reviews the accepted application.
		s.to = civicflow.StageDistrictReview
	case civicflow.ActionReturn:
		s.to = civicflow.StageIntake // back to the township
	case civicflow.ActionApprove:
		r.CentreID = req.RehabCentreID
		s.to = civicflow.StageRegistration
		s.details = map[string]any{"rehab_centre_id": req.RehabCentreID}
		s.rehab = &civicflow.RehabStep{}
	case civicflow.ActionRegister:
		record("registration")
		r.RegisteredAt, r.FileNumber = &now, req.Rehab.FileNumber
		s.to = civicflow.StageAssessment
		s.details = map[string]any{"file_number": req.Rehab.FileNumber}
	case civicflow.ActionAssess:
		record("assessment")
		r.AssessedAt = &now
		suitable := *req.Rehab.Suitable
		s.details = map[string]any{"suitable": suitable}
		if suitable {
			r.Services = req.Rehab.Services
			s.to = civicflow.StagePlanning
		} else {
			r.ClosedAt = &now
			s.to = civicflow.StageClosed
			s.details = map[string]any{"suitable": false, "closure": civicflow.ClosureNotSuitable}
		}
	case civicflow.ActionAgreePlan:
		record("plan")
		start := planStart(req.Rehab.Plan)
		r.Plan, r.PlanStart = req.Rehab.Plan, &start
		r.ReviewInterval = civicflow.DefaultReviewInterval
		if d := req.Rehab.ReviewIntervalDays; d > 0 {
			r.ReviewInterval = time.Duration(d) * 24 * time.Hour
		}
		due := start.Add(r.ReviewInterval)
		r.NextReviewDue, r.OverdueNoted = &due, 0
		s.to, s.due = civicflow.StageInRehab, &due
		s.details = map[string]any{"services": len(r.Plan), "plan_start": start.Format(time.DateOnly),
			"next_review_due": due.Format(time.DateOnly), "agreed_by": req.Rehab.AgreedBy}
	case civicflow.ActionRecordReview:
		record("review")
		n := r.ReviewsDone + 1
		if d := req.Rehab.ReviewIntervalDays; d > 0 {
			r.ReviewInterval = time.Duration(d) * 24 * time.Hour
		}
		// The schedule runs from the plan, not from the day a review is
		// recorded: review n+1 is due one interval after review n was due.
		due := r.NextReviewDue.Add(r.ReviewInterval)
		changed := len(req.Rehab.Plan) > 0
		if changed {
			r.Plan = req.Rehab.Plan
		}
		total := 0
		for _, sc := range r.Sessions {
			total += sc.Sessions
		}
		r.ReviewsDone, r.ReviewsThisRun, r.NextReviewDue, r.Sessions = n, r.ReviewsThisRun+1, &due, nil
		s.to, s.due = civicflow.StageInRehab, &due
		s.details = map[string]any{"review": n, "plan_changed": changed, "sessions": total,
			"next_review_due": due.Format(time.DateOnly)}
	case civicflow.ActionClose:
		record("closure")
		r.ClosedAt, r.NextReviewDue = &now, nil
		s.to = civicflow.StageClosed
		s.details = map[string]any{"closure": req.Rehab.Closure}
	case civicflow.ActionRefer:
		record("referral")
		if req.Rehab.ReferTo == civicflow.ReferToHospital {
			r.ClosedAt, r.NextReviewDue = &now, nil
			s.to = civicflow.StageReferred
			s.details = map[string]any{"refer_to": civicflow.ReferToHospital}
			break
		}
		// A transfer: the new centre registers and assesses the person
		// again; its assessors hold the case from now on.
		from := r.CentreID
		*r = RehabState{CentreID: req.Rehab.CentreID, Transfers: r.Transfers + 1, ReviewsDone: r.ReviewsDone,
			ReviewsThisRun: r.ReviewsThisRun, Runs: r.Runs, SessionSignals: r.SessionSignals, SessionKeys: r.SessionKeys}
		s.to = civicflow.StageRegistration
		s.details = map[string]any{"refer_to": civicflow.ReferToCentre, "from_centre_id": from, "to_centre_id": r.CentreID}
	default:
		return s, fmt.Errorf("no handler for action %s", act)
	}
	if s.rehab != nil {
		s.rehab.Summary = summary(r)
	}
	return s, nil
}
