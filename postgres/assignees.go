package postgres

import (
	"context"

	"civicflow"
)

// Assignee is an official a supervisor may make responsible for a case:
// only what the choice needs, no contact data.
type Assignee struct {
	ID          int64          `json:"id"`
	Username    string         `json:"username"`
	DisplayName string         `json:"display_name"`
	Role        civicflow.Role `json:"role"`
	Current     bool           `json:"current"`
}

// assigneeJurisdiction is where an official of the role must belong to act
// on a case: the township for township officials; the district for
// district reviewers; for rehab assessors the district of the centre
// holding the case (a transfer moves a case to another district's centre).
func assigneeJurisdiction(role civicflow.Role, district, township, centreDistrict string) string {
	switch role {
	case civicflow.RoleDistrictReviewer:
		return district
	case civicflow.RoleRehabAssessor:
		if centreDistrict != "" {
			return centreDistrict
		}
		return district
	}
	return township
}

// caseJurisdictionColumns reads a case's stage, district, township,
// assigned official and the district of its rehab centre (empty if none).
const caseJurisdictionColumns = `stage, district_code, township_code, coalesce(assigned_user_id, 0),
	coalesce((SELECT rc.district_code FROM rehab_centres rc WHERE rc.id = cases.rehab_centre_id), '')`

// Assignees lists the active officials who may act on the case in its
// current stage, the ones Reassign accepts, by display name. A stage no
// official can be reassigned in gives an empty list and reassignable false.
func (db *DB) Assignees(ctx context.Context, caseID int64) (list []Assignee, stage civicflow.Stage, reassignable bool, err error) {
	var district, township, centreDistrict string
	var assigned int64
	if err := db.pool.QueryRow(ctx, `SELECT `+caseJurisdictionColumns+` FROM cases WHERE id = $1`,
		caseID).Scan(&stage, &district, &township, &assigned, &centreDistrict); err != nil {
		return nil, "", false, mapError("read case for assignees", err)
	}
	role := civicflow.ResponsibleRole(stage)
	if role == "" || role == civicflow.RoleInstitutionStaff {
		return []Assignee{}, stage, false, nil
	}
	rows, err := db.pool.Query(ctx, `SELECT id, username, display_name, role FROM users
		WHERE role = $1 AND jurisdiction_code = $2 AND NOT disabled ORDER BY display_name, username, id`,
		role, assigneeJurisdiction(role, district, township, centreDistrict))
	if err != nil {
		return nil, "", false, mapError("list assignees", err)
	}
	defer rows.Close()
	list = []Assignee{}
	for rows.Next() {
		var a Assignee
		if err := rows.Scan(&a.ID, &a.Username, &a.DisplayName, &a.Role); err != nil {
			return nil, "", false, mapError("scan assignee", err)
		}
		a.Current = a.ID == assigned
		list = append(list, a)
	}
	if err := rows.Err(); err != nil {
		return nil, "", false, mapError("list assignees", err)
	}
	return list, stage, true, nil
}
