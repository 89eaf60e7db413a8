package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"civicflow"
)

// Deadlines (issue 4): the working-day calendar, time limits per
// jurisdiction, deadline events on the timeline, the overdue list and the
// supervisors' actions. See docs/deadlines.md.

// recordStageVisit writes the stage a step leaves to stage_visits, in the
// step's transaction (called once per step: the event key guards it).
func recordStageVisit(ctx context.Context, tx pgx.Tx, t civicflow.Transition) error {
	_, err := tx.Exec(ctx, `INSERT INTO stage_visits (case_id, case_type, stage, district_code, township_code, entered_at, left_at, due_at)
		SELECT id, case_type, stage, district_code, township_code, stage_entered_at, greatest($2, stage_entered_at), stage_due_at
		FROM cases WHERE id = $1 AND stage <> $3 AND stage <> 'submitted'
		ON CONFLICT DO NOTHING`, t.CaseID, t.At, string(t.To))
	return mapError("record stage visit", err)
}

// CalendarBetween returns the calendar entries from one date to another
// (both YYYY-MM-DD, inclusive) as a calendar.
func (db *DB) CalendarBetween(ctx context.Context, from, to time.Time) (civicflow.Calendar, error) {
	return calendarBetween(ctx, db.pool, from, to)
}

// querier is what a pool and a transaction share for reads.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func calendarBetween(ctx context.Context, q querier, from, to time.Time) (civicflow.Calendar, error) {
	rows, err := q.Query(ctx, `SELECT to_char(day, 'YYYY-MM-DD'), kind, name FROM calendar_days
		WHERE day BETWEEN $1::date AND $2::date ORDER BY day`,
		from.In(civicflow.ChinaZone()).Format(time.DateOnly), to.In(civicflow.ChinaZone()).Format(time.DateOnly))
	if err != nil {
		return civicflow.Calendar{}, mapError("read calendar", err)
	}
	days, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (civicflow.CalendarDay, error) {
		var d civicflow.CalendarDay
		return d, r.Scan(&d.Date, &d.Kind, &d.Name)
	})
	if err != nil {
		return civicflow.Calendar{}, mapError("read calendar", err)
	}
	return civicflow.NewCalendar(days)
}

// CalendarGaps lists the years from now's year (China time) up to the
// latest open due date that have no holiday entry, each with the open
// deadlines that run through it (due in the year or later), for one
// district or ("") the city, earliest first. A year counts as loaded once
// it has any holiday: every year has 元旦. Every year listed has at least
// one such deadline (the latest), so the join drops none. The latest due
// date and each year's count can be answered from the partial overdue
// indexes (cases_overdue, cases_overdue_district).
func (db *DB) CalendarGaps(ctx context.Context, now time.Time, district string) ([]civicflow.CalendarGap, error) {
	rows, err := db.pool.Query(ctx, `SELECT y, count(*)
		FROM generate_series($1::int, (SELECT extract(year FROM max(stage_due_at) AT TIME ZONE 'Asia/Shanghai')::int
				FROM cases WHERE stage_due_at IS NOT NULL AND ($2 = '' OR district_code = $2))) AS y
		JOIN cases c ON c.stage_due_at >= make_timestamptz(y, 1, 1, 0, 0, 0, 'Asia/Shanghai') AND ($2 = '' OR c.district_code = $2)
		WHERE NOT EXISTS (SELECT 1 FROM calendar_days WHERE kind = 'holiday' AND day BETWEEN make_date(y, 1, 1) AND make_date(y, 12, 31))
		GROUP BY y ORDER BY y`, now.In(civicflow.ChinaZone()).Year(), district)
	if err != nil {
		return nil, mapError("find calendar gaps", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (civicflow.CalendarGap, error) {
		var g civicflow.CalendarGap
		return g, r.Scan(&g.Year, &g.OpenDeadlines)
	})
	return out, mapError("find calendar gaps", err)
}

// CalendarEntry is a calendar day as administrators see it.
type CalendarEntry struct {
	civicflow.CalendarDay
	Source    string    `json:"source"` // official or admin
	UpdatedAt time.Time `json:"updated_at"`
}

// CalendarYear lists the entries of one year.
func (db *DB) CalendarYear(ctx context.Context, year int) ([]CalendarEntry, error) {
	rows, err := db.pool.Query(ctx, `SELECT to_char(day, 'YYYY-MM-DD'), kind, name, source, updated_at FROM calendar_days
		WHERE day >= make_date($1, 1, 1) AND day < make_date($1 + 1, 1, 1) ORDER BY day`, year)
	if err != nil {
		return nil, mapError("list calendar", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (CalendarEntry, error) {
		var e CalendarEntry
		return e, r.Scan(&e.Date, &e.Kind, &e.Name, &e.Source, &e.UpdatedAt)
	})
	return out, mapError("list calendar", err)
}

// PutCalendarDay adds or replaces the entry of one day.
func (db *DB) PutCalendarDay(ctx context.Context, d civicflow.CalendarDay, by int64) error {
	if _, err := civicflow.NewCalendar([]civicflow.CalendarDay{d}); err != nil {
		return err
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO calendar_days (day, kind, name, source, updated_by) VALUES ($1::date, $2, $3, 'admin', nullif($4, 0))
		ON CONFLICT (day) DO UPDATE SET kind = excluded.kind, name = excluded.name, source = 'admin',
			updated_by = excluded.updated_by, updated_at = now()`, d.Date, string(d.Kind), d.Name, by)
	if err != nil && strings.Contains(err.Error(), "calendar_days_check") {
		return civicflow.Invalid(civicflow.FieldError{Field: "kind", Reason: "a working day by 调休 must be a Saturday or Sunday"})
	}
	return mapError("save calendar day", err)
}

// DeleteCalendarDay removes the entry of one day: it follows the week again.
func (db *DB) DeleteCalendarDay(ctx context.Context, date string) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM calendar_days WHERE day = $1::date`, date)
	if err != nil {
		return mapError("delete calendar day", err)
	}
	if tag.RowsAffected() == 0 {
		return civicflow.Errorf(civicflow.ENOTFOUND, "no calendar entry for %s", date)
	}
	return nil
}

const ruleColumns = `case_type, stage, jurisdiction_code, days, unit, reminder_share::float8`

func scanRule(r pgx.CollectableRow) (civicflow.DeadlineRule, error) {
	var d civicflow.DeadlineRule
	return d, r.Scan(&d.CaseType, &d.Stage, &d.Jurisdiction, &d.Days, &d.Unit, &d.ReminderShare)
}

// DeadlineRules lists the rules of the city and of one district (or of all
// districts when district is "").
func (db *DB) DeadlineRules(ctx context.Context, district string) ([]civicflow.DeadlineRule, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+ruleColumns+` FROM deadline_rules
		WHERE $1 = '' OR jurisdiction_code IN ($1, $2) ORDER BY jurisdiction_code, case_type, stage`, district, civicflow.CityCode)
	if err != nil {
		return nil, mapError("list deadline rules", err)
	}
	out, err := pgx.CollectRows(rows, scanRule)
	return out, mapError("list deadline rules", err)
}

// PutDeadlineRule adds or replaces a rule of the city or of a district.
func (db *DB) PutDeadlineRule(ctx context.Context, r civicflow.DeadlineRule, by int64) error {
	if err := r.Validate(); err != nil {
		return err
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO deadline_rules (case_type, stage, jurisdiction_code, days, unit, reminder_share, updated_by)
		VALUES ($1, $2, $3, $4, $5, $6, nullif($7, 0))
		ON CONFLICT (case_type, stage, jurisdiction_code) DO UPDATE SET days = excluded.days, unit = excluded.unit,
			reminder_share = excluded.reminder_share, updated_by = excluded.updated_by, updated_at = now()`,
		string(r.CaseType), r.Stage, r.Jurisdiction, r.Days, string(r.Unit), r.ReminderShare, by)
	if err != nil && strings.Contains(err.Error(), "deadline_rules_stage_check") {
		return civicflow.Invalid(civicflow.FieldError{Field: "stage", Reason: "no time limit can be set for this stage"})
	}
	return mapError("save deadline rule", err)
}

// DeleteDeadlineRule removes a district's override; the city's default
// applies again. The city's own rules cannot be removed, only changed.
func (db *DB) DeleteDeadlineRule(ctx context.Context, caseType civicflow.CaseType, stage, district string) error {
	if district == civicflow.CityCode {
		return civicflow.Errorf(civicflow.ECONFLICT, "the city's default cannot be removed; change it instead")
	}
	tag, err := db.pool.Exec(ctx, `DELETE FROM deadline_rules WHERE case_type = $1 AND stage = $2 AND jurisdiction_code = $3`,
		string(caseType), stage, district)
	if err != nil {
		return mapError("delete deadline rule", err)
	}
	if tag.RowsAffected() == 0 {
		return civicflow.Errorf(civicflow.ENOTFOUND, "no rule for %s in %s", stage, district)
	}
	return nil
}

// ResolveDeadline returns the rule for a stage in a district: the
// district's override, else the city's default; a zero rule when neither
// exists (the stage has no time limit).
func (db *DB) ResolveDeadline(ctx context.Context, caseType civicflow.CaseType, stage, district string) (civicflow.DeadlineRule, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+ruleColumns+` FROM deadline_rules
		WHERE case_type = $1 AND stage = $2 AND jurisdiction_code IN ($3, $4)
		ORDER BY jurisdiction_code = $3 DESC LIMIT 1`, string(caseType), stage, district, civicflow.CityCode)
	if err != nil {
		return civicflow.DeadlineRule{}, mapError("resolve deadline", err)
	}
	rs, err := pgx.CollectRows(rows, scanRule)
	if err != nil || len(rs) == 0 {
		return civicflow.DeadlineRule{}, mapError("resolve deadline", err)
	}
	return rs[0], nil
}

// RecordDeadlineEvent appends the event and enqueues its notifications:
// a reminder to the officials responsible for the stage (the assigned one,
// else all of the role in the jurisdiction), a breach to the supervisors
// of the district and the city (EnqueueEscalation, issue 6). Idempotent.
func (db *DB) RecordDeadlineEvent(ctx context.Context, e civicflow.DeadlineEvent) error {
	details := map[string]any{"due": e.Due.In(civicflow.ChinaZone()).Format(time.RFC3339)}
	for k, v := range e.Details {
		details[k] = v
	}
	fresh := false
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var err error
		fresh, err = appendEvent(ctx, tx, e.CaseID, e.Key, e.Action, e.Stage, civicflow.SystemActor, "", details, e.At)
		if err != nil || !fresh || e.Action != civicflow.StepDeadlineReminder {
			return err
		}
		return remindOfficials(ctx, tx, e.CaseID, e.Key, e.Stage, e.Due, e.At)
	})
	if err != nil {
		return mapError("record deadline event", err)
	}
	if e.Action == civicflow.StepDeadlineBreached {
		// Its own transaction; idempotent through the key, so a retry after
		// a failure here enqueues it then.
		return db.EnqueueEscalation(ctx, EscalationNotice{CaseID: e.CaseID, Key: e.Key, At: e.At,
			Reasons: fmt.Sprintf("stage %s was due %s", e.Stage, e.Due.In(civicflow.ChinaZone()).Format("2006-01-02 15:04"))})
	}
	return nil
}

// appendEvent inserts one timeline event (not a step: the stage stays and
// the case's step counter does not move). It reports whether it was new.
func appendEvent(ctx context.Context, tx pgx.Tx, caseID int64, key string, action civicflow.Action, stage civicflow.Stage,
	actor civicflow.Actor, reasons string, details any, at time.Time) (bool, error) {
	a, err := json.Marshal(actor)
	if err != nil {
		return false, err
	}
	var d []byte
	if details != nil {
		if d, err = json.Marshal(details); err != nil {
			return false, err
		}
	}
	tag, err := tx.Exec(ctx, `INSERT INTO case_events (case_id, event_key, action, from_stage, to_stage, actor, reasons, details, at)
		VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8) ON CONFLICT (case_id, event_key) DO NOTHING`,
		caseID, key, action, string(stage), a, reasons, d, at)
	if err != nil {
		return false, mapError("insert event "+key, err)
	}
	return tag.RowsAffected() == 1, nil
}

// remindOfficials enqueues "a case waits for you" (with its due date) to
// the official assigned to the case, or else to every official of the
// responsible role in the case's jurisdiction.
func remindOfficials(ctx context.Context, tx pgx.Tx, caseID int64, key string, stage civicflow.Stage, due, at time.Time) error {
	role := civicflow.ResponsibleRole(stage)
	if role == "" {
		return nil
	}
	var ref, district, township, districtName, townshipName, person string
	var assigned, institutionID int64
	var assignedLocale string
	var assignedHasEmail bool
	err := tx.QueryRow(ctx, `SELECT c.reference, c.district_code, c.township_code, coalesce(d.name, ''), coalesce(tw.name, ''),
			p.name, coalesce(c.assigned_user_id, 0), coalesce(c.institution_id, 0), coalesce(u.locale, 'zh'), u.email IS NOT NULL
		FROM cases c JOIN persons p ON p.id = c.person_id
		LEFT JOIN jurisdictions d ON d.code = c.district_code
		LEFT JOIN jurisdictions tw ON tw.code = c.township_code
		LEFT JOIN users u ON u.id = c.assigned_user_id AND NOT u.disabled
		WHERE c.id = $1`, caseID).Scan(&ref, &district, &township, &districtName, &townshipName, &person,
		&assigned, &institutionID, &assignedLocale, &assignedHasEmail)
	if err != nil {
		return fmt.Errorf("read case %d for reminder: %w", caseID, err)
	}
	data := civicflow.NoticeData{Reference: ref, Stage: stage, Action: civicflow.StepDeadlineReminder, PersonName: civicflow.MaskName(person),
		District: districtName, Township: townshipName, At: at.In(civicflow.ChinaZone()).Format(time.DateOnly),
		Due: due.Add(-time.Nanosecond).In(civicflow.ChinaZone()).Format(time.DateOnly), Role: role}
	row := outboxRow{caseID: caseID, eventKey: key, template: civicflow.TemplateCaseWaiting, kind: civicflow.RecipientOfficial,
		district: district, township: township, data: data}
	t := civicflow.Transition{CaseID: caseID, Key: key, To: stage, At: at}
	if assigned != 0 && assignedHasEmail {
		row.userID, row.hasChannel, row.locale = assigned, true, assignedLocale
		return insertOutbox(ctx, tx, row, t)
	}
	jurisdiction := township
	switch role {
	case civicflow.RoleDistrictReviewer:
		jurisdiction = district
	case civicflow.RoleRehabAssessor:
		// The assessors of the centre holding the case (the centre of their
		// district), which a transfer may have moved out of the district.
		if err := tx.QueryRow(ctx, `SELECT coalesce((SELECT rc.district_code FROM cases c
				JOIN rehab_centres rc ON rc.id = c.rehab_centre_id WHERE c.id = $1), $2)`, caseID, district).Scan(&jurisdiction); err != nil {
			return fmt.Errorf("read rehab centre of case %d: %w", caseID, err)
		}
	}
	return insertForOfficials(ctx, tx, row, t, role, jurisdiction, institutionID)
}

func randomKey(prefix string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return prefix + "/" + hex.EncodeToString(b)
}

// AddSupervisoryNote appends a supervisor's note to the timeline.
func (db *DB) AddSupervisoryNote(ctx context.Context, caseID int64, actor civicflow.Actor, note string) error {
	return mapError("add note", pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		stage, err := caseStage(ctx, tx, caseID)
		if err != nil {
			return err
		}
		_, err = appendEvent(ctx, tx, caseID, randomKey("supervisor-note"), civicflow.StepSupervisoryNote, stage, actor, note, nil, time.Now())
		return err
	}))
}

// RemindNow records a supervisor's reminder on the timeline and sends it
// to the officials responsible for the current stage.
func (db *DB) RemindNow(ctx context.Context, caseID int64, actor civicflow.Actor, note string) error {
	return mapError("send reminder", pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var stage civicflow.Stage
		var due *time.Time
		if err := tx.QueryRow(ctx, `SELECT stage, stage_due_at FROM cases WHERE id = $1 FOR UPDATE`, caseID).Scan(&stage, &due); err != nil {
			return err
		}
		if stage.Terminal() || civicflow.ResponsibleRole(stage) == "" {
			return civicflow.Errorf(civicflow.ECONFLICT, "no official has to act on the case in stage %s", stage)
		}
		key, now := randomKey("supervisor-reminder"), time.Now()
		if _, err := appendEvent(ctx, tx, caseID, key, civicflow.StepSupervisorReminder, stage, actor, note, nil, now); err != nil {
			return err
		}
		d := now
		if due != nil {
			d = *due
		}
		return remindOfficials(ctx, tx, caseID, key, stage, d, now)
	}))
}

// Reassign makes another official of the case's jurisdiction responsible
// for its current stage: a township official of the case's township in
// intake and investigation, a district reviewer of its district in review.
func (db *DB) Reassign(ctx context.Context, caseID, userID int64, actor civicflow.Actor, reasons string) (*civicflow.User, error) {
	var to *civicflow.User
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var stage civicflow.Stage
		var district, township, centreDistrict string
		var from int64
		if err := tx.QueryRow(ctx, `SELECT `+caseJurisdictionColumns+` FROM cases WHERE id = $1 FOR UPDATE`,
			caseID).Scan(&stage, &district, &township, &from, &centreDistrict); err != nil {
			return err
		}
		role := civicflow.ResponsibleRole(stage)
		if role == "" || role == civicflow.RoleInstitutionStaff {
			return civicflow.Errorf(civicflow.ECONFLICT, "a case in stage %s cannot be reassigned", stage)
		}
		var disabled bool
		u, err := scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+`, u.disabled FROM users u WHERE u.id = $1`, userID), &disabled)
		if errors.Is(err, pgx.ErrNoRows) {
			return civicflow.Invalid(civicflow.FieldError{Field: "user_id", Reason: "is not a known official"})
		}
		if err != nil {
			return err
		}
		want := assigneeJurisdiction(role, district, township, centreDistrict)
		if disabled || u.Role != role || u.Jurisdiction != want {
			return civicflow.Invalid(civicflow.FieldError{Field: "user_id",
				Reason: fmt.Sprintf("must be an active %s of %s, who acts in stage %s", role, want, stage)})
		}
		if _, err := tx.Exec(ctx, `UPDATE cases SET assigned_user_id = $2, updated_at = now() WHERE id = $1`, caseID, userID); err != nil {
			return err
		}
		to = u
		_, err = appendEvent(ctx, tx, caseID, randomKey("reassigned"), civicflow.StepReassigned, stage, actor, reasons,
			map[string]any{"from_user_id": from, "to_user_id": u.ID, "to_username": u.Username}, time.Now())
		return err
	})
	if err != nil {
		return nil, mapError("reassign", err)
	}
	return to, nil
}

func caseStage(ctx context.Context, tx pgx.Tx, caseID int64) (civicflow.Stage, error) {
	var s civicflow.Stage
	err := tx.QueryRow(ctx, `SELECT stage FROM cases WHERE id = $1`, caseID).Scan(&s)
	return s, err
}

// OverdueFilter selects overdue cases. Zero fields do not filter.
type OverdueFilter struct {
	Now            time.Time
	CaseType       civicflow.CaseType
	Stage          civicflow.Stage
	DistrictCode   string
	TownshipCode   string
	AssignedUserID int64
	// Keyset pagination: cases due after (AfterDue, AfterID).
	AfterDue *time.Time
	AfterID  int64
	Limit    int
}

// OverdueCase is one row of the overdue list.
type OverdueCase struct {
	ID             int64           `json:"id"`
	Reference      string          `json:"reference"`
	CaseType       string          `json:"case_type"`
	Stage          civicflow.Stage `json:"stage"`
	DistrictCode   string          `json:"district_code"`
	TownshipCode   string          `json:"township_code"`
	StageEnteredAt time.Time       `json:"stage_entered_at"`
	StageDueAt     time.Time       `json:"stage_due_at"`
	DaysLate       float64         `json:"days_late"`
	AssignedUserID int64           `json:"assigned_user_id,omitempty"`
}

// where builds the filter's predicates; args continues from $1 = now.
func (f OverdueFilter) where(args *[]any) string {
	add := func(cond string, v any) string {
		*args = append(*args, v)
		return " AND " + strings.ReplaceAll(cond, "?", fmt.Sprintf("$%d", len(*args)))
	}
	w := "c.stage_due_at < $1"
	if f.CaseType != "" {
		w += add("c.case_type = ?", string(f.CaseType))
	}
	if f.Stage != "" {
		w += add("c.stage = ?", string(f.Stage))
	}
	if f.DistrictCode != "" {
		w += add("c.district_code = ?", f.DistrictCode)
	}
	if f.TownshipCode != "" {
		w += add("c.township_code = ?", f.TownshipCode)
	}
	if f.AssignedUserID != 0 {
		w += add("c.assigned_user_id = ?", f.AssignedUserID)
	}
	return w
}

// Overdue lists cases past their stage's due date, the longest overdue
// first. The query uses the partial indexes cases_overdue(_district).
func (db *DB) Overdue(ctx context.Context, f OverdueFilter) ([]OverdueCase, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 100
	}
	if f.Now.IsZero() {
		f.Now = time.Now()
	}
	args := []any{f.Now}
	w := f.where(&args)
	if f.AfterDue != nil {
		args = append(args, *f.AfterDue, f.AfterID)
		w += fmt.Sprintf(" AND (c.stage_due_at, c.id) > ($%d, $%d)", len(args)-1, len(args))
	}
	args = append(args, f.Limit)
	rows, err := db.pool.Query(ctx, `SELECT c.id, c.reference, c.case_type, c.stage, c.district_code, c.township_code,
			c.stage_entered_at, c.stage_due_at, extract(epoch FROM ($1 - c.stage_due_at))::float8 / 86400,
			coalesce(c.assigned_user_id, 0)
		FROM cases c WHERE `+w+` ORDER BY c.stage_due_at, c.id LIMIT $`+fmt.Sprint(len(args)), args...)
	if err != nil {
		return nil, mapError("list overdue", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (OverdueCase, error) {
		var o OverdueCase
		return o, r.Scan(&o.ID, &o.Reference, &o.CaseType, &o.Stage, &o.DistrictCode, &o.TownshipCode,
			&o.StageEnteredAt, &o.StageDueAt, &o.DaysLate, &o.AssignedUserID)
	})
	return out, mapError("list overdue", err)
}

// OverdueCount is the number of overdue cases of one district in one stage.
type OverdueCount struct {
	DistrictCode string          `json:"district_code"`
	Stage        civicflow.Stage `json:"stage"`
	Count        int64           `json:"count"`
}

// OverdueCounts counts overdue cases per district and stage (the filter's
// pagination fields are ignored).
func (db *DB) OverdueCounts(ctx context.Context, f OverdueFilter) ([]OverdueCount, error) {
	if f.Now.IsZero() {
		f.Now = time.Now()
	}
	args := []any{f.Now}
	w := f.where(&args)
	rows, err := db.pool.Query(ctx, `SELECT c.district_code, c.stage, count(*) FROM cases c WHERE `+w+`
		GROUP BY 1, 2 ORDER BY 1, 2`, args...)
	if err != nil {
		return nil, mapError("count overdue", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (OverdueCount, error) {
		var o OverdueCount
		return o, r.Scan(&o.DistrictCode, &o.Stage, &o.Count)
	})
	return out, mapError("count overdue", err)
}

// StageStats is how long cases stayed in one stage, over the stage visits
// that ended in a period.
type StageStats struct {
	Stage      civicflow.Stage `json:"stage"`
	Visits     int64           `json:"visits"`
	MedianDays float64         `json:"median_days"`
	P90Days    float64         `json:"p90_days"`
	Late       int64           `json:"late"` // visits that ended after their due date
}

// StageDurations computes StageStats per stage for visits that ended in
// [from, to), for one district or ("") the city.
func (db *DB) StageDurations(ctx context.Context, from, to time.Time, district string) ([]StageStats, error) {
	rows, err := db.pool.Query(ctx, `SELECT stage, count(*),
			percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM left_at - entered_at))::float8 / 86400,
			percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM left_at - entered_at))::float8 / 86400,
			count(*) FILTER (WHERE due_at IS NOT NULL AND left_at > due_at)
		FROM stage_visits WHERE left_at >= $1 AND left_at < $2 AND ($3 = '' OR district_code = $3)
		GROUP BY stage ORDER BY stage`, from, to, district)
	if err != nil {
		return nil, mapError("stage durations", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (StageStats, error) {
		var s StageStats
		return s, r.Scan(&s.Stage, &s.Visits, &s.MedianDays, &s.P90Days, &s.Late)
	})
	return out, mapError("stage durations", err)
}
