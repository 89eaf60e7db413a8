package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"civicflow"
)

// Institutions and beds as administrators keep them (issue 18,
// docs/beds.md). A bed added, or an institution made designated, serves
// the wait-list at once (serveWaitlist), so that a free bed and a waiting
// case of the same care level never exist together; the caller wakes the
// cases that got a bed (their workflows wait for SignalBedOffered).

// InstitutionInput is a new institution.
type InstitutionInput struct {
	Name         string
	DistrictCode string
	Designated   bool
	Address      string
}

// InstitutionChange changes an institution; nil fields stay as they are.
type InstitutionChange struct {
	Name       *string
	Designated *bool
}

// Offer is a bed given to a waiting case by an administrator's change.
type Offer struct {
	CaseID       int64
	AllocationID int64
}

const institutionColumns = `id, name, district_code, designated, address, created_at`

func scanInstitution(row pgx.Row) (*civicflow.InstitutionRecord, error) {
	var r civicflow.InstitutionRecord
	err := row.Scan(&r.ID, &r.Name, &r.DistrictCode, &r.Designated, &r.Address, &r.CreatedAt)
	return &r, err
}

// CreateInstitution adds an institution (no beds yet). A name already
// taken is ECONFLICT.
func (db *DB) CreateInstitution(ctx context.Context, in InstitutionInput) (*civicflow.InstitutionRecord, error) {
	r, err := scanInstitution(db.pool.QueryRow(ctx, `INSERT INTO institutions (name, district_code, designated, address)
		VALUES ($1, $2, $3, $4) RETURNING `+institutionColumns, in.Name, in.DistrictCode, in.Designated, in.Address))
	if err != nil {
		return nil, mapError("institution "+in.Name, err)
	}
	return r, nil
}

// InstitutionRecord returns one institution.
func (db *DB) InstitutionRecord(ctx context.Context, id int64) (*civicflow.InstitutionRecord, error) {
	r, err := scanInstitution(db.pool.QueryRow(ctx, `SELECT `+institutionColumns+` FROM institutions WHERE id = $1`, id))
	if err != nil {
		return nil, mapError(fmt.Sprintf("institution %d", id), err)
	}
	return r, nil
}

// InstitutionRecords lists institutions (of one district, or all for ""),
// by ID.
func (db *DB) InstitutionRecords(ctx context.Context, district string) ([]civicflow.InstitutionRecord, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+institutionColumns+` FROM institutions
		WHERE ($1 = '' OR district_code = $1) ORDER BY id`, district)
	if err != nil {
		return nil, mapError("list institutions", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (civicflow.InstitutionRecord, error) {
		r, err := scanInstitution(row)
		return *r, err
	})
	return out, mapError("list institutions", err)
}

// UpdateInstitution renames an institution or changes whether it is
// designated. Made designated, its free beds serve the wait-list: the
// offers name the cases that got one.
func (db *DB) UpdateInstitution(ctx context.Context, id int64, ch InstitutionChange) (*civicflow.InstitutionRecord, []Offer, error) {
	var r *civicflow.InstitutionRecord
	var offers []Offer
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var err error
		r, err = scanInstitution(tx.QueryRow(ctx, `UPDATE institutions SET name = coalesce($2, name),
			designated = coalesce($3, designated) WHERE id = $1 RETURNING `+institutionColumns, id, ch.Name, ch.Designated))
		if err != nil || ch.Designated == nil || !*ch.Designated {
			return err
		}
		offers, err = serveFreeBeds(ctx, tx, `SELECT id, care_level FROM beds WHERE institution_id = $1 AND retired_at IS NULL ORDER BY id`, id)
		return err
	})
	if err != nil {
		return nil, nil, mapError(fmt.Sprintf("institution %d", id), err)
	}
	return r, offers, nil
}

// serveFreeBeds serves the wait-list with each bed the query lists (id,
// care_level), locking each care level before its beds.
func serveFreeBeds(ctx context.Context, tx pgx.Tx, query string, args ...any) ([]Offer, error) {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	type bed struct {
		id    int64
		level civicflow.CareLevel
	}
	beds, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (bed, error) {
		var b bed
		return b, row.Scan(&b.id, &b.level)
	})
	if err != nil {
		return nil, err
	}
	var offers []Offer
	for _, level := range []civicflow.CareLevel{civicflow.CareSelf, civicflow.CareSemiDependent, civicflow.CareDependent} {
		locked := false
		for _, b := range beds {
			if b.level != level {
				continue
			}
			if !locked {
				if err := lockCareLevel(ctx, tx, level); err != nil {
					return nil, err
				}
				locked = true
			}
			a, err := serveWaitlist(ctx, tx, b.id)
			if err != nil {
				return nil, err
			}
			if a != nil {
				offers = append(offers, Offer{CaseID: a.CaseID, AllocationID: a.ID})
			}
		}
	}
	return offers, nil
}

const bedColumns = `b.id, b.label, b.care_level, b.retired_at, a.id, a.case_id, c.reference, a.admitted_at IS NOT NULL,
	coalesce(a.admitted_at, a.allocated_at)`

const bedsFrom = ` FROM beds b
	LEFT JOIN bed_allocations a ON a.bed_id = b.id AND a.released_at IS NULL
	LEFT JOIN cases c ON c.id = a.case_id`

func scanBed(row pgx.Row) (civicflow.Bed, error) {
	var b civicflow.Bed
	var allocID, caseID *int64
	var ref *string
	var admitted *bool
	var since *time.Time
	if err := row.Scan(&b.ID, &b.Label, &b.CareLevel, &b.RetiredAt, &allocID, &caseID, &ref, &admitted, &since); err != nil {
		return b, err
	}
	if allocID != nil {
		b.Holder = &civicflow.BedHolder{AllocationID: *allocID, CaseID: *caseID, Reference: *ref, Admitted: *admitted, Since: *since}
	}
	return b, nil
}

// InstitutionBeds lists an institution's beds, retired ones too, with who
// holds each now (ENOTFOUND for an unknown institution).
func (db *DB) InstitutionBeds(ctx context.Context, institutionID int64) ([]civicflow.Bed, error) {
	if _, err := db.InstitutionRecord(ctx, institutionID); err != nil {
		return nil, err
	}
	rows, err := db.pool.Query(ctx, `SELECT `+bedColumns+bedsFrom+` WHERE b.institution_id = $1 ORDER BY b.id`, institutionID)
	if err != nil {
		return nil, mapError("list beds", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (civicflow.Bed, error) { return scanBed(row) })
	return out, mapError("list beds", err)
}

func bedOf(ctx context.Context, q pgx.Tx, institutionID, bedID int64) (civicflow.Bed, error) {
	return scanBed(q.QueryRow(ctx, `SELECT `+bedColumns+bedsFrom+` WHERE b.institution_id = $1 AND b.id = $2`, institutionID, bedID))
}

// AddBed adds a bed to an institution and serves the wait-list with it:
// the offer, when not nil, names the case that got it. A label the
// institution already uses is ECONFLICT.
func (db *DB) AddBed(ctx context.Context, institutionID int64, label string, level civicflow.CareLevel) (civicflow.Bed, *Offer, error) {
	var b civicflow.Bed
	var offer *Offer
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if err := lockCareLevel(ctx, tx, level); err != nil {
			return err
		}
		var id int64
		if err := tx.QueryRow(ctx, `INSERT INTO beds (institution_id, label, care_level) VALUES ($1, $2, $3) RETURNING id`,
			institutionID, label, level).Scan(&id); err != nil {
			return err
		}
		a, err := serveWaitlist(ctx, tx, id)
		if err != nil {
			return err
		}
		if a != nil {
			offer = &Offer{CaseID: a.CaseID, AllocationID: a.ID}
		}
		b, err = bedOf(ctx, tx, institutionID, id)
		return err
	})
	if err != nil {
		return b, nil, mapError(fmt.Sprintf("bed %q", label), err)
	}
	return b, offer, nil
}

// RetireBed retires a bed nobody holds; it keeps its row and is never
// allocated again. A held bed is ECONFLICT; retiring a retired bed
// changes nothing.
func (db *DB) RetireBed(ctx context.Context, institutionID, bedID int64) (civicflow.Bed, error) {
	var b civicflow.Bed
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var err error
		if b, err = bedOf(ctx, tx, institutionID, bedID); err != nil {
			return err
		}
		if err := lockCareLevel(ctx, tx, b.CareLevel); err != nil {
			return err
		}
		if b, err = bedOf(ctx, tx, institutionID, bedID); err != nil {
			return err
		}
		if b.Holder != nil {
			return civicflow.Errorf(civicflow.ECONFLICT, "bed %s is held by case %s; it can be retired once free", b.Label, b.Holder.Reference)
		}
		if b.RetiredAt != nil {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE beds SET retired_at = now() WHERE id = $1`, bedID); err != nil {
			return err
		}
		b, err = bedOf(ctx, tx, institutionID, bedID)
		return err
	})
	if err != nil {
		return b, mapError(fmt.Sprintf("bed %d", bedID), err)
	}
	return b, nil
}
