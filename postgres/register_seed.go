package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"civicflow"
)

// SeedPerson is a person to enter in the register directly, for the demo
// (`civicflow dev`): their application is recorded as completed, with no
// workflow behind it, and the period of support is opened as the
// approval (dispersed) or the admission (centralised, on a free bed of
// the care level in the district) would open it.
type SeedPerson struct {
	Application civicflow.Application
	Form        civicflow.SupportForm
	CareLevel   civicflow.CareLevel
	Carer       civicflow.CarerAgreement // dispersed
	StartsOn    time.Time
}

// seedEventKey marks the completed step of a seeded case.
const seedEventKey = "demo-register-seed"

// SeededRegister counts the persons seeded into the register.
func (db *DB) SeededRegister(ctx context.Context) (int, error) {
	var n int
	err := db.pool.QueryRow(ctx, `SELECT count(*) FROM case_events WHERE event_key = $1`, seedEventKey).Scan(&n)
	return n, mapError("count seeded register", err)
}

// SeedRegisterPerson records sp as a completed case and its period of
// support. A centralised person without a free bed in their district is
// refused (ECONFLICT) and nothing is written.
func (db *DB) SeedRegisterPerson(ctx context.Context, sp SeedPerson) error {
	sp.Application.SelfCare = sp.CareLevel
	created, err := db.CreateApplication(ctx, NewCase{Application: sp.Application})
	if err != nil {
		return err
	}
	t := civicflow.Transition{CaseID: created.CaseID, Key: seedEventKey, Seq: 1, Action: civicflow.ActionApprove,
		From: civicflow.StageSubmitted, To: civicflow.StageCompleted, Actor: civicflow.SystemActor, At: time.Now(),
		CareLevel: sp.CareLevel, SupportStart: &sp.StartsOn, Details: map[string]any{"seeded": true}}
	if sp.Form == civicflow.SupportDispersed {
		return db.EnterDispersed(ctx, civicflow.DispersedWrite{Transition: t, CareLevel: sp.CareLevel, Carer: sp.Carer, StartsOn: sp.StartsOn})
	}
	district := civicflow.DistrictOf(sp.Application.Person.TownshipCode)
	return mapError("seed centralised person", pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if err := lockCareLevel(ctx, tx, sp.CareLevel); err != nil {
			return err
		}
		var bedID int64
		err := tx.QueryRow(ctx, `SELECT b.id FROM beds b JOIN institutions i ON i.id = b.institution_id
			WHERE b.care_level = $1 AND i.district_code = $2 AND i.designated
			  AND NOT EXISTS (SELECT 1 FROM bed_allocations a WHERE a.bed_id = b.id AND a.released_at IS NULL)
			ORDER BY i.id DESC, b.id LIMIT 1`, sp.CareLevel, district).Scan(&bedID)
		if errors.Is(err, pgx.ErrNoRows) {
			return civicflow.Errorf(civicflow.ECONFLICT, "no free %s bed in %s to seed a resident", sp.CareLevel, district)
		}
		if err != nil {
			return err
		}
		a, err := allocate(ctx, tx, created.CaseID, bedID)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE bed_allocations SET admitted_at = $2 WHERE id = $1`, a.ID, sp.StartsOn); err != nil {
			return err
		}
		t.At = sp.StartsOn
		if err := enterCentralised(ctx, tx, a.ID, t); err != nil {
			return fmt.Errorf("enter seeded resident: %w", err)
		}
		return recordTransition(ctx, tx, t)
	}))
}
