package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"civicflow"
)

// NewInstitution is a designated institution with its beds per care level.
type NewInstitution struct {
	Name         string
	DistrictCode string
	Beds         map[civicflow.CareLevel]int
}

// EnsureInstitution creates an institution and its beds unless one with the
// same name exists, and returns its ID. Seeding runs it at every start.
func (db *DB) EnsureInstitution(ctx context.Context, ni NewInstitution) (int64, error) {
	var id int64
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT id FROM institutions WHERE name = $1`, ni.Name).Scan(&id)
		if err == nil {
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO institutions (name, district_code) VALUES ($1, $2) RETURNING id`,
			ni.Name, ni.DistrictCode).Scan(&id); err != nil {
			return err
		}
		for _, level := range []civicflow.CareLevel{civicflow.CareSelf, civicflow.CareSemiDependent, civicflow.CareDependent} {
			for i := 1; i <= ni.Beds[level]; i++ {
				label := fmt.Sprintf("%s-%02d", level, i)
				if _, err := tx.Exec(ctx, `INSERT INTO beds (institution_id, label, care_level) VALUES ($1, $2, $3)`, id, label, level); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return id, mapError("ensure institution "+ni.Name, err)
}

// Institutions lists institutions (of one district, or all for "") with
// total and free beds per care level.
func (db *DB) Institutions(ctx context.Context, district string) ([]civicflow.Institution, error) {
	rows, err := db.pool.Query(ctx, `SELECT i.id, i.name, i.district_code, b.care_level, count(b.id),
			count(b.id) FILTER (WHERE a.id IS NULL)
		FROM institutions i JOIN beds b ON b.institution_id = i.id AND b.retired_at IS NULL
		LEFT JOIN bed_allocations a ON a.bed_id = b.id AND a.released_at IS NULL
		WHERE ($1 = '' OR i.district_code = $1)
		GROUP BY i.id, b.care_level ORDER BY i.id, b.care_level`, district)
	if err != nil {
		return nil, mapError("list institutions", err)
	}
	defer rows.Close()
	var out []civicflow.Institution
	for rows.Next() {
		var id int64
		var name, dist string
		var level civicflow.CareLevel
		var total, free int
		if err := rows.Scan(&id, &name, &dist, &level, &total, &free); err != nil {
			return nil, mapError("list institutions", err)
		}
		if len(out) == 0 || out[len(out)-1].ID != id {
			out = append(out, civicflow.Institution{ID: id, Name: name, DistrictCode: dist,
				Beds: map[civicflow.CareLevel]int{}, FreeBeds: map[civicflow.CareLevel]int{}})
		}
		out[len(out)-1].Beds[level] = total
		out[len(out)-1].FreeBeds[level] = free
	}
	return out, mapError("list institutions", rows.Err())
}

// lockCareLevel serialises every allocation decision for one care level, so
// that a bed freed while a case joins the wait-list is never missed and the
// wait-list is served strictly in order. The partial unique indexes on
// bed_allocations make double allocation impossible in any case.
func lockCareLevel(ctx context.Context, tx pgx.Tx, level civicflow.CareLevel) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('beds:' || $1, 42))`, string(level))
	return err
}

// AllocateBed gives the case a free bed of the care level in a designated
// institution, preferring the case's district, unless the wait-list rule
// gives that bed to a case waiting ahead of it (docs/beds.md): a bed of
// the case's own district only to a case of that district, one of
// another district only when nobody of that district waits and nobody
// is ahead of the case in city order. Without such a bed the case joins
// the wait-list. Calling it again for the same case returns its current
// bed or wait-list place: it is idempotent.
func (db *DB) AllocateBed(ctx context.Context, caseID int64, level civicflow.CareLevel, district string) (*civicflow.Placement, error) {
	var p civicflow.Placement
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if err := lockCareLevel(ctx, tx, level); err != nil {
			return err
		}
		a, err := currentAllocation(ctx, tx, caseID)
		if err == nil {
			p.Allocation = a
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		var ahead int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM waitlist WHERE care_level = $1 AND case_id <> $2
				AND position < coalesce((SELECT position FROM waitlist WHERE case_id = $2), 9223372036854775807)`,
			level, caseID).Scan(&ahead); err != nil {
			return err
		}
		var bedID int64
		err = tx.QueryRow(ctx, `WITH me AS (SELECT coalesce((SELECT position FROM waitlist WHERE case_id = $3), 9223372036854775807) AS pos)
			SELECT b.id FROM me, beds b JOIN institutions i ON i.id = b.institution_id
			WHERE b.care_level = $1 AND i.designated AND b.retired_at IS NULL
			  AND NOT EXISTS (SELECT 1 FROM bed_allocations a WHERE a.bed_id = b.id AND a.released_at IS NULL)
			  -- nobody of the bed's district waits ahead (for a bed elsewhere: at all)
			  AND NOT EXISTS (SELECT 1 FROM waitlist w WHERE w.care_level = $1 AND w.case_id <> $3
			                  AND w.district_code = i.district_code AND (i.district_code <> $2 OR w.position < me.pos))
			  -- a bed of another district: nobody ahead in city order either
			  AND (i.district_code = $2 OR NOT EXISTS (SELECT 1 FROM waitlist w WHERE w.care_level = $1
			                  AND w.case_id <> $3 AND w.position < me.pos))
			ORDER BY (i.district_code = $2) DESC, i.id, b.id LIMIT 1`, level, district, caseID).Scan(&bedID)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if bedID == 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO waitlist (case_id, care_level, district_code) VALUES ($1, $2, $3)
				ON CONFLICT (case_id) DO NOTHING`, caseID, level, district); err != nil {
				return err
			}
			p.Waitlisted, p.Position = true, ahead+1
			return nil
		}
		a, err = allocate(ctx, tx, caseID, bedID)
		p.Allocation = a
		return err
	})
	if err != nil {
		return nil, mapError(fmt.Sprintf("allocate bed for case %d", caseID), err)
	}
	return &p, nil
}

// serveWaitlist gives a free bed to the case the wait-list rule picks
// (docs/beds.md): the first case waiting for its care level from the
// bed's district, and only when none of that district waits, the first
// in city order. A retired bed, or one of an institution no longer
// designated, goes to nobody. It answers the new allocation, or nil when
// the bed stays free. The caller holds the care level's lock.
func serveWaitlist(ctx context.Context, tx pgx.Tx, bedID int64) (*civicflow.Allocation, error) {
	var next int64
	err := tx.QueryRow(ctx, `SELECT w.case_id FROM beds b JOIN institutions i ON i.id = b.institution_id
		JOIN waitlist w ON w.care_level = b.care_level
		WHERE b.id = $1 AND b.retired_at IS NULL AND i.designated
		  AND NOT EXISTS (SELECT 1 FROM bed_allocations a WHERE a.bed_id = b.id AND a.released_at IS NULL)
		ORDER BY (w.district_code = i.district_code) DESC, w.position LIMIT 1`, bedID).Scan(&next)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return allocate(ctx, tx, next, bedID)
}

func allocate(ctx context.Context, tx pgx.Tx, caseID, bedID int64) (*civicflow.Allocation, error) {
	var allocID int64
	if err := tx.QueryRow(ctx, `INSERT INTO bed_allocations (bed_id, case_id) VALUES ($1, $2) RETURNING id`, bedID, caseID).Scan(&allocID); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM waitlist WHERE case_id = $1`, caseID); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `UPDATE cases SET institution_id = b.institution_id, bed_id = b.id, allocation_id = $2, updated_at = now()
		FROM beds b WHERE b.id = $3 AND cases.id = $1`, caseID, allocID, bedID); err != nil {
		return nil, err
	}
	return currentAllocation(ctx, tx, caseID)
}

const allocationColumns = `a.id, a.case_id, a.bed_id, b.label, i.id, i.name, b.care_level, a.allocated_at, a.admitted_at, a.released_at`

func scanAllocation(row pgx.Row) (*civicflow.Allocation, error) {
	var a civicflow.Allocation
	err := row.Scan(&a.ID, &a.CaseID, &a.BedID, &a.BedLabel, &a.InstitutionID, &a.Institution, &a.CareLevel,
		&a.AllocatedAt, &a.AdmittedAt, &a.ReleasedAt)
	return &a, err
}

func currentAllocation(ctx context.Context, tx pgx.Tx, caseID int64) (*civicflow.Allocation, error) {
	return scanAllocation(tx.QueryRow(ctx, `SELECT `+allocationColumns+` FROM bed_allocations a
		JOIN beds b ON b.id = a.bed_id JOIN institutions i ON i.id = b.institution_id
		WHERE a.case_id = $1 AND a.released_at IS NULL`, caseID))
}

const allocationByIDSQL = `SELECT ` + allocationColumns + ` FROM bed_allocations a
		JOIN beds b ON b.id = a.bed_id JOIN institutions i ON i.id = b.institution_id WHERE a.id = $1`

// Allocation returns an allocation by ID.
func (db *DB) Allocation(ctx context.Context, id int64) (*civicflow.Allocation, error) {
	a, err := scanAllocation(db.pool.QueryRow(ctx, allocationByIDSQL, id))
	if err != nil {
		return nil, mapError(fmt.Sprintf("allocation %d", id), err)
	}
	return a, nil
}

// CaseAllocation returns the case's current bed allocation.
func (db *DB) CaseAllocation(ctx context.Context, caseID int64) (*civicflow.Allocation, error) {
	var a *civicflow.Allocation
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) (err error) {
		a, err = currentAllocation(ctx, tx, caseID)
		return err
	})
	if err != nil {
		return nil, mapError(fmt.Sprintf("allocation of case %d", caseID), err)
	}
	return a, nil
}

// ConfirmAdmission marks the case's allocation admitted, enters the
// person in the register in centralised support (ending a dispersed
// period on the same day for a transfer) and records the transition, in
// one transaction. Repeating it changes nothing. An allocation released
// before admission (release_allocation) cannot be admitted: ECONFLICT.
// The allocation's row and then the case's are locked first, so an
// admission and a release that race are ordered and one of them fails.
func (db *DB) ConfirmAdmission(ctx context.Context, allocationID int64, t civicflow.Transition) error {
	return mapError("confirm admission", pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		// The allocation first, then the case: the order ReleaseAllocation
		// takes them in, so that the two never wait for each other.
		var admitted, released bool
		if err := tx.QueryRow(ctx, `SELECT admitted_at IS NOT NULL, released_at IS NOT NULL FROM bed_allocations
			WHERE id = $1 AND case_id = $2 FOR UPDATE`, allocationID, t.CaseID).Scan(&admitted, &released); err != nil {
			return err
		}
		done, err := stepRecorded(ctx, tx, t.CaseID, t.Key)
		if err != nil || done {
			return err
		}
		if released && !admitted {
			return civicflow.Errorf(civicflow.ECONFLICT, "the bed was released before admission; it cannot be confirmed")
		}
		if !admitted {
			if _, err := tx.Exec(ctx, `UPDATE bed_allocations SET admitted_at = $2 WHERE id = $1`, allocationID, t.At); err != nil {
				return err
			}
		}
		if err := enterCentralised(ctx, tx, allocationID, t); err != nil {
			return err
		}
		return recordTransition(ctx, tx, t)
	}))
}

// ReleaseBed ends an admitted allocation (the resident left), records the
// departure on the case and gives the bed to the next waiting case
// (serveWaitlist), all in one transaction. Repeating it changes nothing.
func (db *DB) ReleaseBed(ctx context.Context, allocationID int64, t civicflow.Transition) (*civicflow.Departure, error) {
	var d civicflow.Departure
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		a, freed, err := freeBed(ctx, tx, allocationID, t.At, t.Reasons)
		if err != nil {
			return err
		}
		d = freed
		if !d.Released {
			// A retry of the departure that released it (its step is on
			// the timeline) answers as the first attempt did, so that the
			// case the bed went to is still woken.
			mine, err := stepDone(ctx, tx, a.CaseID, t.Key)
			if err != nil || !mine || a.ReleasedAt == nil {
				return err
			}
			d.Released = true
			return servedAfter(ctx, tx, a, &d)
		}
		t.CaseID = a.CaseID
		if err := closeAllocationPeriod(ctx, tx, allocationID, t.At, a.CaseID,
			fmt.Sprintf("allocation-%d-departed", allocationID), t.Actor); err != nil {
			return err
		}
		return recordTransition(ctx, tx, t)
	})
	if err != nil {
		return nil, mapError(fmt.Sprintf("release allocation %d", allocationID), err)
	}
	return &d, nil
}

// ReleaseAllocation gives up an allocation before admission
// (release_allocation: the person declined, died or did not arrive),
// records the step that ends the case and gives the bed to the next
// waiting case (serveWaitlist), in one transaction. An admitted
// allocation is not released here (ECONFLICT: that is a departure).
// Repeating it changes nothing and answers the same next case, so that a
// retried activity still wakes it.
func (db *DB) ReleaseAllocation(ctx context.Context, r civicflow.Release) (*civicflow.Departure, error) {
	d := civicflow.Departure{CaseID: r.Transition.CaseID}
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if !r.Reason.Valid() {
			return civicflow.Invalid(civicflow.FieldError{Field: "release_reason", Reason: "must be declined, died or no_show"})
		}
		a, err := scanAllocation(tx.QueryRow(ctx, allocationByIDSQL, r.AllocationID))
		if err != nil {
			return err
		}
		if a.CaseID != r.Transition.CaseID {
			return civicflow.Errorf(civicflow.ECONFLICT, "allocation %d is not held by case %d", r.AllocationID, r.Transition.CaseID)
		}
		if err := lockCareLevel(ctx, tx, a.CareLevel); err != nil {
			return err
		}
		var admitted, released bool
		if err := tx.QueryRow(ctx, `SELECT admitted_at IS NOT NULL, released_at IS NOT NULL FROM bed_allocations
			WHERE id = $1 FOR UPDATE`, r.AllocationID).Scan(&admitted, &released); err != nil {
			return err
		}
		switch {
		case admitted:
			return civicflow.Errorf(civicflow.ECONFLICT, "the person has been admitted; record a departure instead")
		case released:
			done, err := stepDone(ctx, tx, r.Transition.CaseID, r.Transition.Key)
			if err != nil {
				return err
			}
			if !done {
				return civicflow.Errorf(civicflow.ECONFLICT, "the bed was already released")
			}
			return servedAfter(ctx, tx, a, &d)
		}
		if _, err := tx.Exec(ctx, `UPDATE bed_allocations SET released_at = $2, release_reason = $3, release_cause = $4
			WHERE id = $1`, r.AllocationID, r.Transition.At, r.Transition.Reasons, string(r.Reason)); err != nil {
			return err
		}
		d.Released = true
		if err := recordTransition(ctx, tx, r.Transition); err != nil {
			return err
		}
		na, err := serveWaitlist(ctx, tx, a.BedID)
		if err != nil || na == nil {
			return err
		}
		d.NextCaseID, d.AllocationID = na.CaseID, na.ID
		return nil
	})
	if err != nil {
		return nil, mapError(fmt.Sprintf("release allocation %d before admission", r.AllocationID), err)
	}
	return &d, nil
}

// Waitlist returns the case IDs waiting for a care level, in order.
func (db *DB) Waitlist(ctx context.Context, level civicflow.CareLevel) ([]int64, error) {
	rows, err := db.pool.Query(ctx, `SELECT case_id FROM waitlist WHERE care_level = $1 ORDER BY position`, level)
	if err != nil {
		return nil, mapError("list waitlist", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	return ids, mapError("list waitlist", err)
}

// freeBed ends an admitted allocation (a departure, or the end of the
// resident's support) and gives the bed to the case the wait-list rule
// picks (serveWaitlist), in the caller's transaction. It answers the
// allocation as it was and the departure: the case that left and the
// waiting case that got the bed (0 if none); Released is false when the
// allocation was not admitted or already released.
func freeBed(ctx context.Context, tx pgx.Tx, allocationID int64, at time.Time, reason string) (*civicflow.Allocation, civicflow.Departure, error) {
	var d civicflow.Departure
	a, err := scanAllocation(tx.QueryRow(ctx, allocationByIDSQL, allocationID))
	if err != nil {
		return nil, d, err
	}
	if err := lockCareLevel(ctx, tx, a.CareLevel); err != nil {
		return nil, d, err
	}
	d.CaseID = a.CaseID
	tag, err := tx.Exec(ctx, `UPDATE bed_allocations SET released_at = $2, release_reason = $3, release_cause = 'departure'
		WHERE id = $1 AND released_at IS NULL AND admitted_at IS NOT NULL`, allocationID, at, reason)
	if err != nil || tag.RowsAffected() == 0 {
		return a, d, err
	}
	d.Released = true
	na, err := serveWaitlist(ctx, tx, a.BedID)
	if err != nil || na == nil {
		return a, d, err
	}
	d.NextCaseID, d.AllocationID = na.CaseID, na.ID
	return a, d, nil
}

// servedAfter fills d with the waiting case that released allocation a's
// bed went to, if it still holds it awaiting admission: what the release
// answered the first time, for a retry of the same step to answer again.
func servedAfter(ctx context.Context, tx pgx.Tx, a *civicflow.Allocation, d *civicflow.Departure) error {
	err := tx.QueryRow(ctx, `SELECT case_id, id FROM bed_allocations WHERE bed_id = $1 AND id > $2
		AND released_at IS NULL AND admitted_at IS NULL`, a.BedID, a.ID).Scan(&d.NextCaseID, &d.AllocationID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	return err
}
