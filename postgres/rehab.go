package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"civicflow"
)

// Community rehabilitation (issue 5, migration 007): rehab centres, the
// rehab part of a case (dates and counts anyone who reads the case may
// see) and the sealed clinical records only the centre's staff and the
// district reviewer open (civicflow.MaySeeClinical).

// Associated data of the sealed rehab columns.
const (
	aadRehabContent = "rehab_records.content"
	aadGuardianName = "rehab_applications.guardian_name"
)

// RehabCentres lists the rehab centres, of one district or ("") all.
func (db *DB) RehabCentres(ctx context.Context, district string) ([]civicflow.RehabCentre, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, name, district_code, address FROM rehab_centres
		WHERE $1 = '' OR district_code = $1 ORDER BY district_code`, district)
	if err != nil {
		return nil, mapError("list rehab centres", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (civicflow.RehabCentre, error) {
		var c civicflow.RehabCentre
		return c, r.Scan(&c.ID, &c.Name, &c.DistrictCode, &c.Address)
	})
	return out, mapError("list rehab centres", err)
}

// RehabCentre returns one centre.
func (db *DB) RehabCentre(ctx context.Context, id int64) (*civicflow.RehabCentre, error) {
	var c civicflow.RehabCentre
	err := db.pool.QueryRow(ctx, `SELECT id, name, district_code, address FROM rehab_centres WHERE id = $1`, id).
		Scan(&c.ID, &c.Name, &c.DistrictCode, &c.Address)
	if err != nil {
		return nil, mapError(fmt.Sprintf("rehab centre %d", id), err)
	}
	return &c, nil
}

// SealRehabRecord seals the clinical content of one action (any JSON
// value) for civicflow.RehabRecord.Sealed. The API seals before it sends an action
// to the workflow, so that clinical content never enters workflow history
// in the clear.
func (db *DB) SealRehabRecord(content any) (string, error) {
	b, err := json.Marshal(content)
	if err != nil {
		return "", fmt.Errorf("encode rehab record: %w", err)
	}
	return db.keys.seal(aadRehabContent, string(b))
}

// RecordRehabStep writes the transition, the summary and the record in one
// transaction. Every part is idempotent (the event key), so a retried
// activity writes nothing twice.
func (db *DB) RecordRehabStep(ctx context.Context, s civicflow.RehabStep) error {
	return mapError("record rehab step", pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		t := s.Transition
		// The record first: it belongs to the centre holding the case when
		// the step is taken (a transfer moves the case after it).
		if r := s.Record; r != nil {
			actor, err := json.Marshal(t.Actor)
			if err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `INSERT INTO rehab_records (case_id, event_key, kind, centre_id, actor, content_enc, recorded_at)
				SELECT $1, $2, $3, rehab_centre_id, $4, $5, $6 FROM cases WHERE id = $1
				ON CONFLICT (case_id, event_key) DO NOTHING`, t.CaseID, t.Key, r.Kind, actor, r.Sealed, t.At)
			if err != nil {
				return mapError("record rehab record", err)
			}
		}
		if sum := s.Summary; sum != nil {
			// Before the transition: its notices and stage visit see the centre.
			if _, err := tx.Exec(ctx, `UPDATE cases SET rehab_centre_id = $2 WHERE id = $1`, t.CaseID, sum.CentreID); err != nil {
				return mapError("move case to centre", err)
			}
			var planStart *string
			if sum.PlanStart != nil {
				d := sum.PlanStart.In(civicflow.ChinaZone()).Format(time.DateOnly)
				planStart = &d
			}
			_, err := tx.Exec(ctx, `INSERT INTO rehab_cases (case_id, centre_id, registered_at, assessed_at, plan_start,
					review_interval_days, reviews_done, next_review_due, closed_at)
				VALUES ($1, $2, $3, $4, $5::date, nullif($6, 0), $7, $8, $9)
				ON CONFLICT (case_id) DO UPDATE SET centre_id = excluded.centre_id, registered_at = excluded.registered_at,
					assessed_at = excluded.assessed_at, plan_start = excluded.plan_start,
					review_interval_days = excluded.review_interval_days, reviews_done = excluded.reviews_done,
					next_review_due = excluded.next_review_due, closed_at = excluded.closed_at`,
				t.CaseID, sum.CentreID, sum.RegisteredAt, sum.AssessedAt, planStart, sum.ReviewIntervalDays,
				sum.ReviewsDone, sum.NextReviewDue, sum.ClosedAt)
			if err != nil {
				return mapError("record rehab summary", err)
			}
		}
		return recordTransition(ctx, tx, t)
	}))
}

// RehabSummary returns the rehab part of a case (nil before the district
// named a centre).
func (db *DB) RehabSummary(ctx context.Context, caseID int64) (*civicflow.RehabSummary, error) {
	return scanRehabSummary(db.pool.QueryRow(ctx, rehabSummarySQL, caseID))
}

const rehabSummarySQL = `SELECT r.centre_id, c.name, r.registered_at, r.assessed_at,
		r.plan_start::timestamp AT TIME ZONE 'Asia/Shanghai', r.review_interval_days, r.reviews_done, r.next_review_due, r.closed_at
	FROM rehab_cases r JOIN rehab_centres c ON c.id = r.centre_id WHERE r.case_id = $1`

func scanRehabSummary(row pgx.Row) (*civicflow.RehabSummary, error) {
	var s civicflow.RehabSummary
	var interval *int
	err := row.Scan(&s.CentreID, &s.Centre, &s.RegisteredAt, &s.AssessedAt, &s.PlanStart, &interval, &s.ReviewsDone,
		&s.NextReviewDue, &s.ClosedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, mapError("rehab summary", err)
	}
	if interval != nil {
		s.ReviewIntervalDays = *interval
	}
	return &s, nil
}

// ClinicalRecord is one opened clinical record.
type ClinicalRecord struct {
	ID         int64           `json:"id"`
	Kind       string          `json:"kind"`
	CentreID   int64           `json:"centre_id"`
	Actor      civicflow.Actor `json:"actor"`
	Content    json.RawMessage `json:"content"`
	RecordedAt time.Time       `json:"recorded_at"`
}

// ClinicalRecords opens the clinical records of a case, oldest first.
// Only the audited clinical read (API) calls it.
func (db *DB) ClinicalRecords(ctx context.Context, caseID int64) ([]ClinicalRecord, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, kind, centre_id, actor, content_enc, recorded_at FROM rehab_records
		WHERE case_id = $1 ORDER BY recorded_at, id`, caseID)
	if err != nil {
		return nil, mapError("list clinical records", err)
	}
	type row struct {
		rec    ClinicalRecord
		actor  []byte
		sealed string
	}
	rs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		return x, r.Scan(&x.rec.ID, &x.rec.Kind, &x.rec.CentreID, &x.actor, &x.sealed, &x.rec.RecordedAt)
	})
	if err != nil {
		return nil, mapError("list clinical records", err)
	}
	out := make([]ClinicalRecord, 0, len(rs))
	for _, x := range rs {
		if err := json.Unmarshal(x.actor, &x.rec.Actor); err != nil {
			return nil, fmt.Errorf("decode actor of rehab record %d: %w", x.rec.ID, err)
		}
		plain, err := db.keys.open(aadRehabContent, x.sealed)
		if err != nil {
			return nil, fmt.Errorf("rehab record %d: %w", x.rec.ID, err)
		}
		x.rec.Content = json.RawMessage(plain)
		out = append(out, x.rec)
	}
	return out, nil
}

// insertRehabApplication records who applied for a rehab case and the
// guardian's consent, in the transaction that creates the case.
func (db *DB) insertRehabApplication(ctx context.Context, tx pgx.Tx, caseID int64, r *civicflow.RehabApplication, minor bool) error {
	guardian, err := db.keys.seal(aadGuardianName, r.GuardianName)
	if err != nil {
		return err
	}
	var consentOn *string
	if r.ConsentOn != "" {
		consentOn = &r.ConsentOn
	}
	_, err = tx.Exec(ctx, `INSERT INTO rehab_applications (case_id, applied_by, minor, without_capacity, guardian_name_enc,
			guardian_consent, consent_on)
		VALUES ($1, $2, $3, $4, nullif($5, ''), $6, $7::date)`,
		caseID, string(r.AppliedBy), minor, r.WithoutCapacity, guardian, r.GuardianConsent, consentOn)
	return mapError("record rehab application", err)
}

// RehabApplication returns who applied for a rehab case, the guardian's
// name opened (for the clinical read only).
func (db *DB) RehabApplication(ctx context.Context, caseID int64) (*civicflow.RehabApplication, error) {
	var r civicflow.RehabApplication
	var sealed string
	var consentOn *time.Time
	err := db.pool.QueryRow(ctx, `SELECT applied_by, without_capacity, coalesce(guardian_name_enc, ''), guardian_consent, consent_on
		FROM rehab_applications WHERE case_id = $1`, caseID).Scan(&r.AppliedBy, &r.WithoutCapacity, &sealed, &r.GuardianConsent, &consentOn)
	if err != nil {
		return nil, mapError(fmt.Sprintf("rehab application of case %d", caseID), err)
	}
	if r.GuardianName, err = db.keys.open(aadGuardianName, sealed); err != nil {
		return nil, err
	}
	if consentOn != nil {
		r.ConsentOn = consentOn.Format(time.DateOnly)
	}
	return &r, nil
}

// CentreCases lists the cases a rehab centre holds (optionally in one
// stage), oldest first, after the given ID.
func (db *DB) CentreCases(ctx context.Context, centreID int64, stage civicflow.Stage, afterID int64, limit int) ([]*civicflow.Case, error) {
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	rows, err := db.pool.Query(ctx, `SELECT `+caseColumns+` FROM cases c JOIN persons p ON p.id = c.person_id
		WHERE c.rehab_centre_id = $1 AND ($2 = '' OR c.stage = $2) AND c.id > $3 ORDER BY c.id LIMIT $4`,
		centreID, string(stage), afterID, limit)
	if err != nil {
		return nil, mapError("list centre cases", err)
	}
	defer rows.Close()
	var out []*civicflow.Case
	for rows.Next() {
		c, err := scanCase(rows)
		if err != nil {
			return nil, mapError("list centre cases", err)
		}
		out = append(out, c)
	}
	return out, mapError("list centre cases", rows.Err())
}
