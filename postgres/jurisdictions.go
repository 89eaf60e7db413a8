package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"civicflow"
)

// Jurisdictions lists all jurisdictions, parents before children.
func (db *DB) Jurisdictions(ctx context.Context) ([]civicflow.Jurisdiction, error) {
	rows, err := db.pool.Query(ctx, `SELECT code, name, level, coalesce(parent_code, '')
		FROM jurisdictions ORDER BY length(code), code`)
	if err != nil {
		return nil, mapError("list jurisdictions", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (civicflow.Jurisdiction, error) {
		var j civicflow.Jurisdiction
		err := r.Scan(&j.Code, &j.Name, &j.Level, &j.ParentCode)
		return j, err
	})
	return out, mapError("list jurisdictions", err)
}

// Jurisdiction returns one jurisdiction by code.
func (db *DB) Jurisdiction(ctx context.Context, code string) (*civicflow.Jurisdiction, error) {
	var j civicflow.Jurisdiction
	err := db.pool.QueryRow(ctx, `SELECT code, name, level, coalesce(parent_code, '')
		FROM jurisdictions WHERE code = $1`, code).Scan(&j.Code, &j.Name, &j.Level, &j.ParentCode)
	if err != nil {
		return nil, mapError("jurisdiction "+code, err)
	}
	return &j, nil
}
