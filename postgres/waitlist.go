package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"civicflow"
)

// WaitlistEntries lists the cases waiting for a bed, per care level in
// city order, with each one's place in the city's order and in its
// district's (docs/beds.md). level "" lists every care level, district ""
// every district; positions are counted over the whole wait-list either
// way, so a district's list shows where its cases stand in the city.
// Names are masked.
func (db *DB) WaitlistEntries(ctx context.Context, level civicflow.CareLevel, district string) ([]civicflow.WaitlistEntry, error) {
	rows, err := db.pool.Query(ctx, `SELECT city_pos, district_pos, case_id, reference, name, district_code, township_code, care_level, queued_at
		FROM (SELECT row_number() OVER (PARTITION BY w.care_level ORDER BY w.position) AS city_pos,
		             row_number() OVER (PARTITION BY w.care_level, w.district_code ORDER BY w.position) AS district_pos,
		             w.case_id, c.reference, p.name, w.district_code, c.township_code, w.care_level, w.queued_at, w.position
		      FROM waitlist w JOIN cases c ON c.id = w.case_id JOIN persons p ON p.id = c.person_id) x
		WHERE ($1 = '' OR care_level = $1) AND ($2 = '' OR district_code = $2)
		ORDER BY care_level, position`, string(level), district)
	if err != nil {
		return nil, mapError("list the wait-list", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (civicflow.WaitlistEntry, error) {
		var e civicflow.WaitlistEntry
		var name string
		err := row.Scan(&e.CityPosition, &e.DistrictPosition, &e.CaseID, &e.Reference, &name, &e.DistrictCode,
			&e.TownshipCode, &e.CareLevel, &e.WaitingSince)
		e.MaskedName = civicflow.MaskName(name)
		return e, err
	})
	return out, mapError("list the wait-list", err)
}
