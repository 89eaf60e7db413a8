package postgres

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"

	"civicflow"
)

// goStepMarker is a line in a migration where a Go step runs, inside the
// migration's transaction, between the SQL before and after it.
var goStepMarker = regexp.MustCompile(`(?m)^-- civicflow:go ([a-z_]+)[ \t]*$`)

// goSteps are the Go steps migrations may name.
func (db *DB) goSteps() map[string]func(context.Context, pgx.Tx) error {
	return map[string]func(context.Context, pgx.Tx) error{
		"seal_personal_data": db.sealPlaintextPersonalData,
	}
}

// runMigrationSQL runs one migration's SQL, calling the Go steps it marks.
func (db *DB) runMigrationSQL(ctx context.Context, tx pgx.Tx, sql string) error {
	steps := db.goSteps()
	for {
		loc := goStepMarker.FindStringSubmatchIndex(sql)
		if loc == nil {
			break
		}
		if before := sql[:loc[0]]; strings.TrimSpace(before) != "" {
			if _, err := tx.Exec(ctx, before); err != nil {
				return err
			}
		}
		name := sql[loc[2]:loc[3]]
		step, ok := steps[name]
		if !ok {
			return fmt.Errorf("unknown go step %q", name)
		}
		if err := step(ctx, tx); err != nil {
			return fmt.Errorf("go step %s: %w", name, err)
		}
		sql = sql[loc[1]:]
	}
	if strings.TrimSpace(sql) == "" {
		return nil
	}
	_, err := tx.Exec(ctx, sql)
	return err
}

// sealPlaintextPersonalData is migration 003's Go step: it seals the
// personal data of rows written before 003 into the new columns. It only
// touches rows not yet sealed, so it is idempotent. Without keys it fails
// when there is anything to seal (an empty database needs none).
func (db *DB) sealPlaintextPersonalData(ctx context.Context, tx pgx.Tx) error {
	type person struct {
		id              int64
		idNumber, phone string
	}
	rows, err := tx.Query(ctx, `SELECT id, id_number, coalesce(phone, '') FROM persons WHERE id_number_enc IS NULL ORDER BY id`)
	if err != nil {
		return err
	}
	persons, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (person, error) {
		var p person
		return p, r.Scan(&p.id, &p.idNumber, &p.phone)
	})
	if err != nil {
		return err
	}
	type caseRow struct {
		id           int64
		phone, email string
		dkind        *string
		dgrade       *int
	}
	rows, err = tx.Query(ctx, `SELECT id, coalesce(applicant_phone, ''), coalesce(applicant_email, ''), disability_kind,
		disability_grade FROM cases
		WHERE (applicant_phone IS NOT NULL AND applicant_phone_enc IS NULL)
		   OR (applicant_email IS NOT NULL AND applicant_email_enc IS NULL)
		   OR (disability_kind IS NOT NULL AND disability_enc IS NULL) ORDER BY id`)
	if err != nil {
		return err
	}
	cases, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (caseRow, error) {
		var c caseRow
		return c, r.Scan(&c.id, &c.phone, &c.email, &c.dkind, &c.dgrade)
	})
	if err != nil {
		return err
	}
	if len(persons)+len(cases) > 0 && db.keys == nil {
		return fmt.Errorf("%d persons and %d cases hold personal data in the clear: %w; run `civicflow migrate` with the keys",
			len(persons), len(cases), errNoKeys)
	}
	for _, p := range persons {
		s, err := db.sealPerson(p.idNumber, p.phone)
		if err != nil {
			return fmt.Errorf("person %d: %w", p.id, err)
		}
		if _, err := tx.Exec(ctx, `UPDATE persons SET id_number_enc = $2, id_number_hash = $3, id_number_masked = $4,
			phone_enc = nullif($5, ''), phone_masked = nullif($6, '') WHERE id = $1`,
			p.id, s.idNumberEnc, s.idNumberHash, s.idNumberMasked, s.phoneEnc, s.phoneMasked); err != nil {
			return fmt.Errorf("seal person %d: %w", p.id, err)
		}
	}
	for _, c := range cases {
		var dis *civicflow.Disability
		if c.dkind != nil && c.dgrade != nil {
			dis = &civicflow.Disability{Kind: civicflow.DisabilityKind(*c.dkind), Grade: *c.dgrade}
		}
		s, err := db.sealCaseContact(c.phone, c.email, dis)
		if err != nil {
			return fmt.Errorf("case %d: %w", c.id, err)
		}
		if _, err := tx.Exec(ctx, `UPDATE cases SET applicant_phone_enc = nullif($2, ''), applicant_email_enc = nullif($3, ''),
			disability_enc = nullif($4, ''), has_disability = $4 <> '' WHERE id = $1`,
			c.id, s.phoneEnc, s.emailEnc, s.disabilityEnc); err != nil {
			return fmt.Errorf("seal case %d: %w", c.id, err)
		}
	}
	return nil
}
