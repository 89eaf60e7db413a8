package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"civicflow"
)

// enqueueNotices writes the notifications a step causes, in the step's own
// transaction: a notification exists exactly when its step was recorded.
// The unique index on (case, step, template, recipient) makes it
// idempotent. An applicant without an e-mail address gets a no_channel row
// and an event on the case's timeline saying the notice must go another way.
func enqueueNotices(ctx context.Context, tx pgx.Tx, t civicflow.Transition) error {
	if len(civicflow.NoticesFor(t.Action, t.To)) == 0 {
		return nil // most steps cause none: no need to read the case
	}
	var (
		ref, district, township, districtName, townshipName, person string
		caseType                                                    civicflow.CaseType
		careLevel, institution, bed                                 string
		institutionID                                               int64
		hasEmail                                                    bool
		waiting                                                     []byte
	)
	err := tx.QueryRow(ctx, `SELECT c.case_type, c.reference, c.district_code, c.township_code, coalesce(d.name, ''), coalesce(tw.name, ''),
			p.name, coalesce(j.c ->> 'applicant_email_enc', j.c ->> 'applicant_email', '') <> '',
			coalesce(c.care_level, ''), c.waiting_for,
			coalesce(i.id, 0), coalesce(i.name, ''), coalesce(b.label, '')
		FROM cases c JOIN persons p ON p.id = c.person_id
		-- The address may be sealed (applicant_email_enc, issue 3) or plain
		-- (applicant_email, before it); only its presence matters here.
		CROSS JOIN LATERAL (SELECT to_jsonb(c) AS c) j
		LEFT JOIN jurisdictions d ON d.code = c.district_code
		LEFT JOIN jurisdictions tw ON tw.code = c.township_code
		LEFT JOIN bed_allocations a ON a.case_id = c.id AND a.released_at IS NULL
		LEFT JOIN beds b ON b.id = a.bed_id
		LEFT JOIN institutions i ON i.id = b.institution_id
		WHERE c.id = $1`, t.CaseID).Scan(&caseType, &ref, &district, &township, &districtName, &townshipName,
		&person, &hasEmail, &careLevel, &waiting, &institutionID, &institution, &bed)
	if err != nil {
		return fmt.Errorf("read case %d for notices: %w", t.CaseID, err)
	}
	notices := civicflow.NoticesOf(caseType, t.Action, t.To)
	base := civicflow.NoticeData{Reference: ref, CaseType: caseType, Stage: t.To, Action: t.Action, PersonName: civicflow.MaskName(person),
		District: districtName, Township: townshipName, At: t.At.In(civicflow.ChinaZone()).Format(time.DateOnly),
		CareLevel: careLevel}
	// The longest notice period is a few weeks: two months of calendar
	// cover it, holidays included.
	cal, err := calendarBetween(ctx, tx, t.At, t.At.AddDate(0, 2, 0))
	if err != nil {
		return fmt.Errorf("read calendar for notices: %w", err)
	}
	for _, n := range notices {
		d := base
		switch n.Template {
		case civicflow.TemplateDecisionApproved:
			if caseType == civicflow.CaseTypeEducationGrant {
				if d.Amount, err = awardAmount(ctx, tx, t.CaseID); err != nil {
					return err
				}
			}
		case civicflow.TemplateSupplementsRequested:
			d.Items = t.WaitingFor
			if len(d.Items) == 0 {
				_ = json.Unmarshal(waiting, &d.Items)
			}
			d.Due = dueDate(cal, t.At, civicflow.NoticeSupplementsWorkingDays)
		case civicflow.TemplateDecisionRejected:
			d.Reasons = t.Reasons
			d.Due = dueDate(cal, t.At, civicflow.NoticeRefusalWorkingDays)
		case civicflow.TemplateReturnedToTownship:
			d.Reasons = t.Reasons
			d.Due = dueDate(cal, t.At, civicflow.NoticeInvestigationWorkingDays)
		case civicflow.TemplateCaseWaiting:
			if n.Role == civicflow.RoleDistrictReviewer {
				d.Due = dueDate(cal, t.At, civicflow.NoticeReviewWorkingDays)
			}
		case civicflow.TemplatePlacement:
			d.Institution, d.Bed = institution, bed
		case civicflow.TemplateAdmissionConfirmed:
			d.Institution, d.Bed = institution, bed
			if t.SupportStart != nil {
				d.SupportStart = t.SupportStart.In(civicflow.ChinaZone()).Format(time.DateOnly)
			}
		}
		row := outboxRow{caseID: t.CaseID, eventKey: t.Key, template: n.Template, kind: n.Recipient,
			district: district, township: township, data: d}
		switch n.Recipient {
		case civicflow.RecipientApplicant:
			row.hasChannel, row.locale = hasEmail, "zh"
			if err := insertOutbox(ctx, tx, row, t); err != nil {
				return err
			}
		case civicflow.RecipientOfficial:
			d.Role = n.Role
			row.data = d
			jurisdiction := township
			switch n.Role {
			case civicflow.RoleDistrictReviewer:
				jurisdiction = district
			case civicflow.RoleInstitutionStaff:
				jurisdiction = ""
			}
			if err := insertForOfficials(ctx, tx, row, t, n.Role, jurisdiction, institutionID); err != nil {
				return err
			}
		}
	}
	return nil
}

// outboxRow is a notification about to be enqueued.
type outboxRow struct {
	caseID             int64
	eventKey           string
	template           civicflow.Template
	kind               civicflow.RecipientKind
	userID             int64
	hasChannel         bool
	locale             string
	district, township string
	data               civicflow.NoticeData
}

// insertForOfficials enqueues one notification for each active official of
// the role in the jurisdiction (or, for institution staff, the institution)
// who has an address. Officials without one see the case in their work list.
func insertForOfficials(ctx context.Context, tx pgx.Tx, row outboxRow, t civicflow.Transition, role civicflow.Role, jurisdiction string, institutionID int64) error {
	rows, err := tx.Query(ctx, `SELECT id, locale FROM users
		WHERE role = $1 AND NOT disabled AND email IS NOT NULL
		  AND (($1 = 'institution_staff' AND institution_id = $3) OR ($1 <> 'institution_staff' AND jurisdiction_code = $2))
		ORDER BY id`, string(role), jurisdiction, institutionID)
	if err != nil {
		return fmt.Errorf("find officials to notify: %w", err)
	}
	type official struct {
		id     int64
		locale string
	}
	found, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (official, error) {
		var o official
		return o, r.Scan(&o.id, &o.locale)
	})
	if err != nil {
		return fmt.Errorf("find officials to notify: %w", err)
	}
	for _, o := range found {
		r := row
		r.userID, r.hasChannel, r.locale = o.id, true, o.locale
		if err := insertOutbox(ctx, tx, r, t); err != nil {
			return err
		}
	}
	return nil
}

func insertOutbox(ctx context.Context, tx pgx.Tx, r outboxRow, t civicflow.Transition) error {
	data, err := json.Marshal(r.data)
	if err != nil {
		return err
	}
	channel, state := civicflow.ChannelEmail, civicflow.NotificationPending
	if !r.hasChannel {
		// SMS would be chosen here once a provider exists (CIVICFLOW_SMS_PROVIDER).
		channel, state = civicflow.ChannelNone, civicflow.NotificationNoChannel
	}
	var userID *int64
	if r.userID != 0 {
		userID = &r.userID
	}
	var id int64
	err = tx.QueryRow(ctx, `INSERT INTO notifications (case_id, event_key, template, recipient_kind, user_id, channel,
			locale, data, district_code, township_code, state, last_error)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT DO NOTHING RETURNING id`,
		r.caseID, r.eventKey, string(r.template), string(r.kind), userID, string(channel), r.locale, data,
		r.district, r.township, string(state), noChannelReason(channel)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // enqueued by an earlier attempt
	}
	if err != nil {
		return mapError("enqueue notification", err)
	}
	if channel != civicflow.ChannelNone {
		return nil
	}
	details, err := json.Marshal(map[string]any{"notification_id": id, "template": r.template,
		"recipient": r.kind, "reason": noChannelReason(channel)})
	if err != nil {
		return err
	}
	actor, err := json.Marshal(civicflow.SystemActor)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO case_events (case_id, event_key, action, from_stage, to_stage, actor, reasons, details, at)
		VALUES ($1, $2, $3, $4, $4, $5, '', $6, $7) ON CONFLICT (case_id, event_key) DO NOTHING`,
		r.caseID, t.Key+"/notice/"+string(r.template), civicflow.StepNoticeNotSent, string(t.To), actor, details, t.At)
	return mapError("record missing channel", err)
}

func noChannelReason(ch civicflow.Channel) string {
	if ch != civicflow.ChannelNone {
		return ""
	}
	return "the applicant gave no e-mail address and no SMS provider is configured; deliver this notice on paper or in person"
}

// dueDate is the last of n working days after at, as YYYY-MM-DD, on the
// working-day calendar (holidays and 调休) the deadlines use.
func dueDate(cal civicflow.Calendar, at time.Time, n int) string {
	return cal.AddWorkingDays(at, n).AddDate(0, 0, -1).Format(time.DateOnly)
}

// EscalationNotice is an escalation of a case to supervisors. Escalations
// themselves come with deadlines (issue 4); this is the seam they call.
type EscalationNotice struct {
	CaseID  int64
	Key     string // unique per case, like a step's key
	Reasons string
	At      time.Time
}

// EnqueueEscalation tells the supervisors of the case's district and of
// the city that a case was escalated. It is idempotent through the key.
func (db *DB) EnqueueEscalation(ctx context.Context, e EscalationNotice) error {
	return mapError("enqueue escalation", pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var ref, district, township, districtName, townshipName, person string
		var stage civicflow.Stage
		err := tx.QueryRow(ctx, `SELECT c.reference, c.stage, c.district_code, c.township_code, coalesce(d.name, ''),
				coalesce(tw.name, ''), p.name
			FROM cases c JOIN persons p ON p.id = c.person_id
			LEFT JOIN jurisdictions d ON d.code = c.district_code
			LEFT JOIN jurisdictions tw ON tw.code = c.township_code
			WHERE c.id = $1`, e.CaseID).Scan(&ref, &stage, &district, &township, &districtName, &townshipName, &person)
		if err != nil {
			return err
		}
		data := civicflow.NoticeData{Reference: ref, Stage: stage, Action: "escalated", PersonName: civicflow.MaskName(person),
			District: districtName, Township: townshipName, At: e.At.In(civicflow.ChinaZone()).Format(time.DateOnly),
			Reasons: e.Reasons, Role: civicflow.RoleSupervisor}
		rows, err := tx.Query(ctx, `SELECT id, locale FROM users
			WHERE role = 'supervisor' AND NOT disabled AND email IS NOT NULL AND jurisdiction_code IN ($1, $2)
			ORDER BY id`, district, civicflow.CityCode)
		if err != nil {
			return err
		}
		type sup struct {
			id     int64
			locale string
		}
		sups, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (sup, error) {
			var s sup
			return s, r.Scan(&s.id, &s.locale)
		})
		if err != nil {
			return err
		}
		for _, s := range sups {
			r := outboxRow{caseID: e.CaseID, eventKey: e.Key, template: civicflow.TemplateEscalated,
				kind: civicflow.RecipientSupervisor, userID: s.id, hasChannel: true, locale: s.locale,
				district: district, township: township, data: data}
			if err := insertOutbox(ctx, tx, r, civicflow.Transition{Key: e.Key, To: stage, At: e.At}); err != nil {
				return err
			}
		}
		return nil
	}))
}

// ClaimNotification takes the row for one sending attempt, for lease. A
// row in 'sending' is taken over only when its lease ran out and it was not
// yet handed over; once handed over (committed) it is never sent again by
// itself: an expired in-doubt row becomes unconfirmed. The Message-ID is
// fixed on the first claim, from the row's ID and domain.
func (db *DB) ClaimNotification(ctx context.Context, id int64, lease time.Duration, domain string) (civicflow.ClaimOutcome, *civicflow.OutgoingNotification, error) {
	var outcome civicflow.ClaimOutcome
	var out *civicflow.OutgoingNotification
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var state civicflow.NotificationState
		var committed, expired bool
		err := tx.QueryRow(ctx, `SELECT state, committed_at IS NOT NULL, coalesce(lease_until < now(), true)
			FROM notifications WHERE id = $1 FOR UPDATE`, id).Scan(&state, &committed, &expired)
		if err != nil {
			return err
		}
		switch state {
		case civicflow.NotificationPending:
		case civicflow.NotificationSending:
			if !expired {
				outcome = civicflow.ClaimBusy
				return nil
			}
			if committed {
				_, err := tx.Exec(ctx, `UPDATE notifications SET state = 'unconfirmed', claim = NULL, lease_until = NULL,
					last_error = $2, updated_at = now() WHERE id = $1`, id,
					"the sending attempt stopped after handing the message to the mail server and before recording the answer; "+
						"it may have been delivered and is not sent again by itself")
				outcome = civicflow.ClaimInDoubt
				return err
			}
		default:
			outcome = civicflow.ClaimFinished
			return nil
		}
		if lease <= 0 {
			lease = 3 * time.Minute
		}
		msgID := "<civicflow-notification-" + strconv.FormatInt(id, 10) + "@" + domain + ">"
		row := tx.QueryRow(ctx, `UPDATE notifications n SET state = 'sending', attempts = attempts + 1,
				claim = gen_random_uuid(), lease_until = now() + $2 * interval '1 millisecond',
				message_id = coalesce(message_id, $3), committed_at = NULL, updated_at = now()
			FROM cases c WHERE n.id = $1 AND c.id = n.case_id
			RETURNING `+notificationColumns+`, n.data, n.claim::text`, id, lease.Milliseconds(), msgID)
		o, err := scanOutgoing(row)
		if err != nil {
			return err
		}
		outcome, out = civicflow.ClaimSend, o
		return nil
	})
	if err != nil {
		return "", nil, mapError(fmt.Sprintf("claim notification %d", id), err)
	}
	return outcome, out, nil
}

// CommitNotification marks the point of no return of the attempt holding
// token: called right before the message is handed over for good. It fails
// with ECONFLICT when the claim was lost (the lease ran out and another
// attempt took over); the caller must then abandon the message unsent.
func (db *DB) CommitNotification(ctx context.Context, id int64, token string, lease time.Duration) error {
	if lease <= 0 {
		lease = 3 * time.Minute
	}
	tag, err := db.pool.Exec(ctx, `UPDATE notifications SET committed_at = now(),
			lease_until = now() + $3 * interval '1 millisecond', updated_at = now()
		WHERE id = $1 AND claim = $2::uuid AND state = 'sending' AND committed_at IS NULL`, id, token, lease.Milliseconds())
	if err != nil {
		return mapError("commit notification", err)
	}
	if tag.RowsAffected() == 0 {
		return civicflow.Errorf(civicflow.ECONFLICT, "notification %d: the sending claim was lost", id)
	}
	return nil
}

// MarkNotificationSent records the server's acceptance.
func (db *DB) MarkNotificationSent(ctx context.Context, id int64, token, reply string) error {
	_, err := db.pool.Exec(ctx, `UPDATE notifications SET state = 'sent', sent_at = now(), smtp_reply = $3,
			last_error = '', claim = NULL, lease_until = NULL, updated_at = now()
		WHERE id = $1 AND (claim = $2::uuid OR (state = 'unconfirmed' AND committed_at IS NOT NULL))`, id, token, reply)
	return mapError("mark notification sent", err)
}

// ReleaseNotification gives the row back for a later attempt after a
// temporary failure in which the message was certainly not accepted.
func (db *DB) ReleaseNotification(ctx context.Context, id int64, token, lastError string) error {
	_, err := db.pool.Exec(ctx, `UPDATE notifications SET state = 'pending', claim = NULL, lease_until = NULL,
			committed_at = NULL, last_error = $3, updated_at = now()
		WHERE id = $1 AND claim = $2::uuid`, id, token, lastError)
	return mapError("release notification", err)
}

// FailNotification records a permanent failure (bad credentials, a
// rejected recipient, a message the server refuses).
func (db *DB) FailNotification(ctx context.Context, id int64, token, lastError string) error {
	_, err := db.pool.Exec(ctx, `UPDATE notifications SET state = 'failed', claim = NULL, lease_until = NULL,
			committed_at = NULL, last_error = $3, updated_at = now()
		WHERE id = $1 AND claim = $2::uuid`, id, token, lastError)
	return mapError("fail notification", err)
}

// UnconfirmNotification records that the message was handed over but no
// answer came back: it may have been delivered and is not resent by itself.
func (db *DB) UnconfirmNotification(ctx context.Context, id int64, token, lastError string) error {
	_, err := db.pool.Exec(ctx, `UPDATE notifications SET state = 'unconfirmed', claim = NULL, lease_until = NULL,
			last_error = $3, updated_at = now()
		WHERE id = $1 AND claim = $2::uuid`, id, token, lastError)
	return mapError("unconfirm notification", err)
}

// GiveUpNotification ends a notification whose retries ran out: failed if
// it was never handed over, unconfirmed if it may have been. It changes
// nothing in a final state and reports the state the row is in.
func (db *DB) GiveUpNotification(ctx context.Context, id int64, reason string) (civicflow.NotificationState, error) {
	var state civicflow.NotificationState
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE notifications SET
				state = CASE WHEN committed_at IS NOT NULL THEN 'unconfirmed' ELSE 'failed' END,
				claim = NULL, lease_until = NULL,
				last_error = CASE WHEN last_error = '' THEN $2 ELSE $2 || ': ' || last_error END, updated_at = now()
			WHERE id = $1 AND state IN ('pending', 'sending')`, id, reason)
		if err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT state FROM notifications WHERE id = $1`, id).Scan(&state)
	})
	return state, mapError("give up notification", err)
}

// DispatchNotifications hands up to limit pending, undispatched
// notifications to start (which starts their sending workflows) and marks
// those it started. Rows are locked with SKIP LOCKED, so several
// dispatchers share the queue without waiting on each other.
func (db *DB) DispatchNotifications(ctx context.Context, limit int, start func(id int64, generation int) error) (int, error) {
	n := 0
	var firstErr error // reported after the successes are committed
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, generation FROM notifications
			WHERE state = 'pending' AND dispatched_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`, limit)
		if err != nil {
			return err
		}
		type item struct {
			id  int64
			gen int
		}
		items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (item, error) {
			var it item
			return it, r.Scan(&it.id, &it.gen)
		})
		if err != nil {
			return err
		}
		for _, it := range items {
			if err := start(it.id, it.gen); err != nil {
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			if _, err := tx.Exec(ctx, `UPDATE notifications SET dispatched_at = now() WHERE id = $1`, it.id); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err == nil && firstErr != nil {
		err = fmt.Errorf("start notification workflow: %w", firstErr)
	}
	return n, mapError("dispatch notifications", err)
}

// RetryNotification puts a failed or unconfirmed notification back in the
// queue as a new generation (a supervisor's decision). It keeps its
// Message-ID, so a receiver that got an unconfirmed one can tell the copy.
func (db *DB) RetryNotification(ctx context.Context, id int64) (*civicflow.Notification, error) {
	n, err := scanNotification(db.pool.QueryRow(ctx, `UPDATE notifications n SET state = 'pending',
			generation = generation + 1, dispatched_at = NULL, committed_at = NULL, claim = NULL, lease_until = NULL,
			updated_at = now()
		FROM cases c WHERE n.id = $1 AND c.id = n.case_id AND n.state IN ('failed', 'unconfirmed')
		RETURNING `+notificationColumns, id))
	if errors.Is(err, pgx.ErrNoRows) {
		if _, err := db.Notification(ctx, id); err != nil {
			return nil, err
		}
		return nil, civicflow.Errorf(civicflow.ECONFLICT, "only failed or unconfirmed notifications can be retried")
	}
	return n, mapError("retry notification", err)
}

const notificationColumns = `n.id, n.case_id, c.reference, n.event_key, n.template, n.recipient_kind, coalesce(n.user_id, 0),
	n.channel, n.locale, n.state, n.attempts, n.last_error, coalesce(n.message_id, ''),
	n.generation, n.district_code, n.township_code, n.created_at, n.updated_at, n.sent_at`

func notificationDest(n *civicflow.Notification) []any {
	return []any{&n.ID, &n.CaseID, &n.CaseReference, &n.EventKey, &n.Template, &n.Recipient, &n.UserID,
		&n.Channel, &n.Locale, &n.State, &n.Attempts, &n.LastError, &n.MessageID,
		&n.Generation, &n.DistrictCode, &n.TownshipCode, &n.CreatedAt, &n.UpdatedAt, &n.SentAt}
}

func scanNotification(row pgx.Row) (*civicflow.Notification, error) {
	var n civicflow.Notification
	if err := row.Scan(notificationDest(&n)...); err != nil {
		return nil, err
	}
	return &n, nil
}

func scanOutgoing(row pgx.Row) (*civicflow.OutgoingNotification, error) {
	var o civicflow.OutgoingNotification
	var data []byte
	if err := row.Scan(append(notificationDest(&o.Notification), &data, &o.Token)...); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, &o.Data); err != nil {
		return nil, fmt.Errorf("decode notice data: %w", err)
	}
	return &o, nil
}

// Notification returns one notification.
func (db *DB) Notification(ctx context.Context, id int64) (*civicflow.Notification, error) {
	n, err := scanNotification(db.pool.QueryRow(ctx, `SELECT `+notificationColumns+`
		FROM notifications n JOIN cases c ON c.id = n.case_id WHERE n.id = $1`, id))
	return n, mapError(fmt.Sprintf("notification %d", id), err)
}

// NotificationFilter selects notifications. Zero fields do not filter.
type NotificationFilter struct {
	States       []civicflow.NotificationState
	DistrictCode string // scope: a district supervisor sees their district only
	CaseID       int64
	AfterID      int64 // keyset pagination
	Limit        int
}

// Notifications lists notifications matching f, oldest first.
func (db *DB) Notifications(ctx context.Context, f NotificationFilter) ([]*civicflow.Notification, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 100
	}
	states := make([]string, len(f.States))
	for i, s := range f.States {
		states[i] = string(s)
	}
	rows, err := db.pool.Query(ctx, `SELECT `+notificationColumns+` FROM notifications n JOIN cases c ON c.id = n.case_id
		WHERE (cardinality($1::text[]) = 0 OR n.state = ANY($1)) AND ($2 = '' OR n.district_code = $2)
		  AND ($3 = 0 OR n.case_id = $3) AND n.id > $4
		ORDER BY n.id LIMIT $5`, states, f.DistrictCode, f.CaseID, f.AfterID, f.Limit)
	if err != nil {
		return nil, mapError("list notifications", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*civicflow.Notification, error) {
		return scanNotification(r)
	})
	return out, mapError("list notifications", err)
}

// SetUserEmail sets (or, with "", clears) an official's address and the
// language of their notifications.
func (db *DB) SetUserEmail(ctx context.Context, userID int64, email, locale string) error {
	if locale == "" {
		locale = "zh"
	}
	tag, err := db.pool.Exec(ctx, `UPDATE users SET email = nullif($2, ''), locale = $3 WHERE id = $1`, userID, email, locale)
	if err != nil {
		return mapError("set user email", err)
	}
	if tag.RowsAffected() == 0 {
		return civicflow.Errorf(civicflow.ENOTFOUND, "user %d: not found", userID)
	}
	return nil
}

// NotificationAddress looks up where a notification goes now: the
// applicant's address on the case (opened from its sealed form when the
// store holds the keys) or the official's. "" means there is none any more.
func (db *DB) NotificationAddress(ctx context.Context, n *civicflow.Notification) (string, error) {
	if n.Recipient == civicflow.RecipientApplicant {
		// Only the address is opened: sending a notice needs nothing else.
		var sealed string
		err := db.pool.QueryRow(ctx, `SELECT coalesce(applicant_email_enc, '') FROM cases WHERE id = $1`, n.CaseID).Scan(&sealed)
		if err != nil {
			return "", mapError(fmt.Sprintf("applicant address of case %d", n.CaseID), err)
		}
		if sealed == "" {
			return "", nil
		}
		return db.keys.open(aadApplicantEmail, sealed)
	}
	var email string
	err := db.pool.QueryRow(ctx, `SELECT coalesce(email, '') FROM users WHERE id = $1 AND NOT disabled`, n.UserID).Scan(&email)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return email, mapError("address of user", err)
}
