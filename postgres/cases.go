package postgres

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"civicflow"
)

// NewCase is an application to record, with the idempotency key of the
// request that carried it ("" for none) and a hash of that request.
type NewCase struct {
	Application    civicflow.Application
	IdempotencyKey string
	RequestHash    []byte
}

// Created is the outcome of CreateApplication.
type Created struct {
	CaseID     int64  `json:"case_id"`
	Reference  string `json:"reference"`
	AccessCode string `json:"access_code"`
	WorkflowID string `json:"workflow_id"`
	// Replayed is true when the idempotency key had been seen: the case is
	// the one created by the first request.
	Replayed bool `json:"-"`
}

const idempotencyScopeApply = "apply"

// CreateApplication records a new case in stage submitted, or returns the
// case an earlier request with the same idempotency key created. A key reused
// with a different request is a conflict, and so is a second open case for
// the same person.
func (db *DB) CreateApplication(ctx context.Context, nc NewCase) (*Created, error) {
	var out *Created
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if nc.IdempotencyKey != "" {
			// Serialise requests carrying the same key.
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 42))`, nc.IdempotencyKey); err != nil {
				return err
			}
			var hash []byte
			var resp []byte
			err := tx.QueryRow(ctx, `SELECT request_hash, response FROM idempotency_keys WHERE scope = $1 AND key = $2`,
				idempotencyScopeApply, nc.IdempotencyKey).Scan(&hash, &resp)
			switch {
			case err == nil:
				if !bytes.Equal(hash, nc.RequestHash) {
					return civicflow.Errorf(civicflow.ECONFLICT, "this Idempotency-Key was already used for a different request")
				}
				out = &Created{Replayed: true}
				return json.Unmarshal(resp, out)
			case !errors.Is(err, pgx.ErrNoRows):
				return err
			}
		}
		a := nc.Application
		// Personal data is sealed before it reaches the database; the person
		// is found by the keyed hash of the ID number, never the number.
		sp, err := db.sealPerson(a.Person.IDNumber, a.Person.Phone)
		if err != nil {
			return err
		}
		sc, err := db.sealCaseContact(a.ApplicantPhone, a.ApplicantEmail, a.Disability)
		if err != nil {
			return err
		}
		var personID int64
		err = tx.QueryRow(ctx, `INSERT INTO persons (id_number_enc, id_number_hash, id_number_masked, name, birth_date, male,
				phone_enc, phone_masked, hukou_township_code)
			VALUES ($1, $2, $3, $4, $5, $6, nullif($7, ''), nullif($8, ''), $9)
			ON CONFLICT (id_number_hash) DO UPDATE SET name = excluded.name,
				phone_enc = coalesce(excluded.phone_enc, persons.phone_enc),
				phone_masked = coalesce(excluded.phone_masked, persons.phone_masked),
				hukou_township_code = excluded.hukou_township_code, updated_at = now()
			RETURNING id`,
			sp.idNumberEnc, sp.idNumberHash, sp.idNumberMasked, a.Person.Name, a.Person.BirthDate, a.Person.Male,
			sp.phoneEnc, sp.phoneMasked, a.Person.TownshipCode).Scan(&personID)
		if err != nil {
			return mapError("record person", err)
		}
		var caseID int64
		if err := tx.QueryRow(ctx, `SELECT nextval('cases_id_seq')`).Scan(&caseID); err != nil {
			return err
		}
		district := civicflow.DistrictOf(a.Person.TownshipCode)
		ref := fmt.Sprintf("TK-%s-%06d", district, caseID)
		code := newAccessCode()
		// A second open application for the person is a conflict that names
		// the open case (the API masks it for anonymous callers). Checked
		// first so that the failed insert does not spend a case number; the
		// unique index still decides under concurrency.
		caseType := a.Type
		if caseType == "" {
			caseType = civicflow.CaseTypeCentralisedCare
		}
		var openRef string
		// The predicate of cases_one_open_per_person (migration 012).
		err = tx.QueryRow(ctx, `SELECT reference FROM cases WHERE person_id = $1 AND case_type = $2
			AND stage NOT IN ('rejected', 'withdrawn', 'departed', 'closed', 'referred')
			AND NOT (case_type IN ('education_grant', 'support_transfer', 'support_termination') AND stage = 'completed')
			AND support_ended_at IS NULL`, personID, caseType).Scan(&openRef)
		if err == nil {
			return &civicflow.Error{Code: civicflow.ECONFLICT, Reference: openRef,
				Message: "an open application for this person already exists"}
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO cases (id, reference, case_type, stage, workflow_id, person_id,
				district_code, township_code, community_code, address, relation, applicant_name, applicant_phone_enc,
				applicant_email_enc, reported_self_care, disability_enc, has_disability, statement, access_code_hash)
			VALUES ($1, $2, $3, 'submitted', $4, $5, $6, $7, nullif($8, ''), $9, $10, $11, nullif($12, ''),
				nullif($13, ''), nullif($14, ''), nullif($15, ''), $15 <> '', $16, $17)`,
			caseID, ref, caseType, civicflow.CaseWorkflowID(caseID), personID, district,
			a.Person.TownshipCode, a.CommunityCode, a.Address, a.Relation, a.ApplicantName, sc.phoneEnc,
			sc.emailEnc, a.SelfCare, sc.disabilityEnc, a.Statement, accessCodeHash(ref, code))
		if err != nil {
			if strings.Contains(err.Error(), "cases_one_open_per_person") {
				return civicflow.Errorf(civicflow.ECONFLICT, "an open application for this person already exists")
			}
			return mapError("record case", err)
		}
		if a.Rehab != nil {
			minor := civicflow.IsMinor(civicflow.AgeOn(a.Person.BirthDate, time.Now().In(civicflow.ChinaZone())))
			if err := db.insertRehabApplication(ctx, tx, caseID, a.Rehab, minor); err != nil {
				return err
			}
		}
		if a.Education != nil || caseType == civicflow.CaseTypeEducationGrant {
			if err := insertEducationApplication(ctx, tx, caseID, personID, caseType, a.Education); err != nil {
				return err
			}
		}
		out = &Created{CaseID: caseID, Reference: ref, AccessCode: code, WorkflowID: civicflow.CaseWorkflowID(caseID)}
		if nc.IdempotencyKey != "" {
			resp, err := json.Marshal(out)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO idempotency_keys (scope, key, request_hash, case_id, response)
				VALUES ($1, $2, $3, $4, $5)`, idempotencyScopeApply, nc.IdempotencyKey, nc.RequestHash, caseID, resp); err != nil {
				return mapError("record idempotency key", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, mapError("create application", err)
	}
	return out, nil
}

// accessCodeAlphabet leaves out characters people confuse (0/O, 1/I/L).
const accessCodeAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

func newAccessCode() string {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	for i := range b {
		b[i] = accessCodeAlphabet[int(b[i])%len(accessCodeAlphabet)]
	}
	return string(b)
}

func accessCodeHash(ref, code string) []byte {
	h := sha256.Sum256([]byte(ref + "\x00" + strings.ToUpper(strings.TrimSpace(code))))
	return h[:]
}

// caseColumns read the masked copies of personal data only: lists and
// timelines never open a sealed value.
const caseColumns = `c.id, c.reference, c.case_type, c.stage, c.workflow_id, c.person_id, p.name, p.id_number_masked,
	coalesce(p.phone_masked, ''), p.birth_date, c.district_code, c.township_code, coalesce(c.community_code, ''), c.address,
	c.relation, c.applicant_name, coalesce(c.reported_self_care, ''), coalesce(c.care_level, ''), c.has_disability,
	c.statement, c.waiting_for, coalesce(c.institution_id, 0), coalesce(c.bed_id, 0), coalesce(c.allocation_id, 0),
	c.support_start, c.notice_ends_at, c.seq, c.stage_entered_at, c.created_at, c.updated_at,
	c.stage_due_at, coalesce(c.assigned_user_id, 0), coalesce(c.rehab_centre_id, 0), coalesce(c.support_form, '')`

func scanCase(row pgx.Row) (*civicflow.Case, error) {
	var c civicflow.Case
	var waiting []byte
	err := row.Scan(&c.ID, &c.Reference, &c.Type, &c.Stage, &c.WorkflowID, &c.PersonID, &c.PersonName, &c.IDNumberMasked,
		&c.PhoneMasked, &c.BirthDate, &c.DistrictCode, &c.TownshipCode, &c.CommunityCode, &c.Address,
		&c.Relation, &c.ApplicantName, &c.SelfCare, &c.CareLevel, &c.DisabilityRecorded,
		&c.Statement, &waiting, &c.InstitutionID, &c.BedID, &c.AllocationID,
		&c.SupportStart, &c.NoticeEndsAt, &c.Seq, &c.StageEnteredAt, &c.CreatedAt, &c.UpdatedAt,
		&c.StageDueAt, &c.AssignedUserID, &c.RehabCentreID, &c.SupportForm)
	if err != nil {
		return nil, err
	}
	c.WaitingFor = []string{}
	if err := json.Unmarshal(waiting, &c.WaitingFor); err != nil {
		return nil, fmt.Errorf("decode waiting_for: %w", err)
	}
	return &c, nil
}

// Case returns a case by ID.
func (db *DB) Case(ctx context.Context, id int64) (*civicflow.Case, error) {
	c, err := scanCase(db.pool.QueryRow(ctx, `SELECT `+caseColumns+` FROM cases c JOIN persons p ON p.id = c.person_id WHERE c.id = $1`, id))
	if err != nil {
		return nil, mapError(fmt.Sprintf("case %d", id), err)
	}
	return c, nil
}

// CaseStage returns only the stage of a case: the cheap read for callers
// that wait for a case to move.
func (db *DB) CaseStage(ctx context.Context, id int64) (civicflow.Stage, error) {
	var st civicflow.Stage
	err := db.pool.QueryRow(ctx, `SELECT stage FROM cases WHERE id = $1`, id).Scan(&st)
	if err != nil {
		return "", mapError(fmt.Sprintf("case %d", id), err)
	}
	return st, nil
}

// CaseByReference returns a case by its reference.
func (db *DB) CaseByReference(ctx context.Context, ref string) (*civicflow.Case, error) {
	c, err := scanCase(db.pool.QueryRow(ctx, `SELECT `+caseColumns+` FROM cases c JOIN persons p ON p.id = c.person_id WHERE c.reference = $1`, ref))
	if err != nil {
		return nil, mapError("case "+ref, err)
	}
	return c, nil
}

// CaseByAccessCode returns the case with this reference when code is its
// access code. A wrong code and an unknown reference give the same error so
// that references cannot be probed.
func (db *DB) CaseByAccessCode(ctx context.Context, ref, code string) (*civicflow.Case, error) {
	var stored []byte
	err := db.pool.QueryRow(ctx, `SELECT access_code_hash FROM cases WHERE reference = $1`, ref).Scan(&stored)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, mapError("case "+ref, err)
	}
	want := accessCodeHash(ref, code)
	if errors.Is(err, pgx.ErrNoRows) || subtle.ConstantTimeCompare(stored, want) != 1 {
		return nil, civicflow.Errorf(civicflow.EUNAUTHORIZED, "unknown reference or wrong access code")
	}
	return db.CaseByReference(ctx, ref)
}

// CaseFilter selects cases. Zero fields do not filter.
type CaseFilter struct {
	Stage         civicflow.Stage
	DistrictCode  string
	TownshipCode  string
	InstitutionID int64
	AfterID       int64 // keyset pagination: cases with a larger ID
	Limit         int
}

// Cases lists cases matching f, oldest first.
func (db *DB) Cases(ctx context.Context, f CaseFilter) ([]*civicflow.Case, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 100
	}
	rows, err := db.pool.Query(ctx, `SELECT `+caseColumns+` FROM cases c JOIN persons p ON p.id = c.person_id
		WHERE ($1 = '' OR c.stage = $1) AND ($2 = '' OR c.district_code = $2) AND ($3 = '' OR c.township_code = $3)
		  AND ($4 = 0 OR c.institution_id = $4) AND c.id > $5
		ORDER BY c.id LIMIT $6`, string(f.Stage), f.DistrictCode, f.TownshipCode, f.InstitutionID, f.AfterID, f.Limit)
	if err != nil {
		return nil, mapError("list cases", err)
	}
	defer rows.Close()
	var out []*civicflow.Case
	for rows.Next() {
		c, err := scanCase(rows)
		if err != nil {
			return nil, mapError("list cases", err)
		}
		out = append(out, c)
	}
	return out, mapError("list cases", rows.Err())
}

// Events returns a case's timeline in order.
func (db *DB) Events(ctx context.Context, caseID int64) ([]civicflow.Event, error) {
	rows, err := db.pool.Query(ctx, eventsSQL, caseID)
	if err != nil {
		return nil, mapError("list events", err)
	}
	return collectEvents(rows)
}

const eventsSQL = `SELECT id, case_id, event_key, action, coalesce(from_stage, ''), to_stage, actor,
		reasons, details, at FROM case_events WHERE case_id = $1 ORDER BY at, id`

func collectEvents(rows pgx.Rows) ([]civicflow.Event, error) {
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (civicflow.Event, error) {
		var e civicflow.Event
		var actor, details []byte
		if err := r.Scan(&e.ID, &e.CaseID, &e.Key, &e.Action, &e.FromStage, &e.ToStage, &actor, &e.Reasons, &details, &e.At); err != nil {
			return e, err
		}
		if len(details) > 0 {
			e.Details = details
		}
		return e, json.Unmarshal(actor, &e.Actor)
	})
	return out, mapError("list events", err)
}

// CaseRecords is what a case page shows besides the case itself.
type CaseRecords struct {
	Timeline   []civicflow.Event
	Papers     []civicflow.Document
	Checks     []civicflow.CheckResult
	Allocation *civicflow.Allocation   // nil without a bed allocation
	Rehab      *civicflow.RehabSummary // community rehab only; nil before a centre is named
}

// CaseRecords reads a case's timeline, papers, check results, its bed
// allocation when it has one and its rehab summary when it is a rehab case,
// in one round trip to the database: the case page is the API's most
// frequent request.
func (db *DB) CaseRecords(ctx context.Context, cs *civicflow.Case) (CaseRecords, error) {
	var r CaseRecords
	b := &pgx.Batch{}
	b.Queue(eventsSQL, cs.ID).Query(func(rows pgx.Rows) (err error) {
		r.Timeline, err = collectEvents(rows)
		return err
	})
	b.Queue(documentsSQL, cs.ID).Query(func(rows pgx.Rows) (err error) {
		r.Papers, err = collectDocuments(rows)
		return err
	})
	b.Queue(checksSQL, cs.ID).Query(func(rows pgx.Rows) (err error) {
		r.Checks, err = collectChecks(rows)
		return err
	})
	if cs.AllocationID != 0 {
		b.Queue(allocationByIDSQL, cs.AllocationID).QueryRow(func(row pgx.Row) (err error) {
			r.Allocation, err = scanAllocation(row)
			return mapError(fmt.Sprintf("allocation %d", cs.AllocationID), err)
		})
	}
	if cs.Type == civicflow.CaseTypeCommunityRehab {
		b.Queue(rehabSummarySQL, cs.ID).QueryRow(func(row pgx.Row) (err error) {
			r.Rehab, err = scanRehabSummary(row)
			return err
		})
	}
	if err := db.pool.SendBatch(ctx, b).Close(); err != nil {
		return CaseRecords{}, mapError(fmt.Sprintf("records of case %d", cs.ID), err)
	}
	return r, nil
}

// PersonIDNumber returns the unmasked ID number of the person of a case. It
// is for activities that must send it to other systems.
func (db *DB) PersonIDNumber(ctx context.Context, caseID int64) (string, error) {
	var sealed string
	err := db.pool.QueryRow(ctx, `SELECT p.id_number_enc FROM cases c JOIN persons p ON p.id = c.person_id WHERE c.id = $1`, caseID).Scan(&sealed)
	if err != nil {
		return "", mapError(fmt.Sprintf("id number of case %d", caseID), err)
	}
	return db.keys.open(aadIDNumber, sealed)
}

// RecordTransition appends the event and updates the case in one
// transaction. Recording the same key twice changes nothing and is not an
// error, so a retried activity never writes twice.
func (db *DB) RecordTransition(ctx context.Context, t civicflow.Transition) error {
	return mapError("record transition", pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		return recordTransition(ctx, tx, t)
	}))
}

func recordTransition(ctx context.Context, tx pgx.Tx, t civicflow.Transition) error {
	actor, err := json.Marshal(t.Actor)
	if err != nil {
		return err
	}
	var details []byte
	if t.Details != nil {
		if details, err = json.Marshal(t.Details); err != nil {
			return err
		}
	}
	tag, err := tx.Exec(ctx, `INSERT INTO case_events (case_id, event_key, action, from_stage, to_stage, actor, reasons, details, at)
		VALUES ($1, $2, $3, nullif($4, ''), $5, $6, $7, $8, $9) ON CONFLICT (case_id, event_key) DO NOTHING`,
		t.CaseID, t.Key, t.Action, string(t.From), string(t.To), actor, t.Reasons, details, t.At)
	if err != nil {
		return mapError("insert event "+t.Key, err)
	}
	if tag.RowsAffected() == 0 {
		return nil // already recorded by an earlier attempt
	}
	var waiting []byte
	if t.WaitingFor != nil {
		if waiting, err = json.Marshal(t.WaitingFor); err != nil {
			return err
		}
	}
	var support *time.Time
	if t.SupportStart != nil {
		d := t.SupportStart.In(civicflow.ChinaZone())
		support = &d
	}
	// The stage being left, for the supervisors' statistics (deadlines.go).
	if err := recordStageVisit(ctx, tx, t); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE cases SET
			stage = $2,
			seq = greatest(seq, $3),
			stage_entered_at = CASE WHEN stage <> $2 THEN $4 ELSE stage_entered_at END,
			waiting_for = coalesce($5::jsonb, waiting_for),
			care_level = coalesce(nullif($6, ''), care_level),
			notice_ends_at = CASE WHEN $2 = 'public_notice' THEN coalesce($7, notice_ends_at) ELSE NULL END,
			support_start = coalesce($8::date, support_start),
			stage_due_at = CASE WHEN stage <> $2 THEN $9 ELSE coalesce($9, stage_due_at) END,
			updated_at = now()
		WHERE id = $1`,
		t.CaseID, string(t.To), t.Seq, t.At, waiting, string(t.CareLevel), t.NoticeEndsAt, support, t.StageDueAt)
	if err != nil {
		return mapError("update case", err)
	}
	if err := notifyCaseChanged(ctx, tx, t.CaseID); err != nil {
		return err
	}
	// The step's notifications (outbox), in the same transaction: see
	// postgres/notifications.go and docs/notifications.md.
	return enqueueNotices(ctx, tx, t)
}

// SaveCheckResult stores the verification platform's answer for one round
// of investigation; saving the same round again keeps the first answer.
func (db *DB) SaveCheckResult(ctx context.Context, caseID int64, round int, r civicflow.CheckResult) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = db.pool.Exec(ctx, `INSERT INTO economic_checks (case_id, round, result) VALUES ($1, $2, $3)
		ON CONFLICT (case_id, round) DO NOTHING`, caseID, round, b)
	return mapError("save check result", err)
}

// CheckResults lists the verification answers of a case by round.
func (db *DB) CheckResults(ctx context.Context, caseID int64) ([]civicflow.CheckResult, error) {
	rows, err := db.pool.Query(ctx, checksSQL, caseID)
	if err != nil {
		return nil, mapError("list checks", err)
	}
	return collectChecks(rows)
}

const checksSQL = `SELECT result FROM economic_checks WHERE case_id = $1 ORDER BY round`

func collectChecks(rows pgx.Rows) ([]civicflow.CheckResult, error) {
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (civicflow.CheckResult, error) {
		var c civicflow.CheckResult
		var b []byte
		if err := r.Scan(&b); err != nil {
			return c, err
		}
		return c, json.Unmarshal(b, &c)
	})
	return out, mapError("list checks", err)
}
