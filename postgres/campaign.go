package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"civicflow"
)

// Campaigns over the register (migration 011, docs/campaigns.md): the
// campaign, one task row per person created in keyset chunks, the problem
// ledger and the persons found.

const campaignColumns = `c.id, c.kind, c.scope_code, j.name, c.title, c.as_of, c.created_by_name, c.created_at,
	c.tasks_created_at, c.task_count, c.closed_at, coalesce(c.closed_by_name, ''), coalesce(c.closing_note, '')`

const campaignFrom = ` FROM campaigns c JOIN jurisdictions j ON j.code = c.scope_code`

func scanCampaign(row pgx.Row) (*civicflow.Campaign, error) {
	var c civicflow.Campaign
	err := row.Scan(&c.ID, &c.Kind, &c.Scope, &c.ScopeName, &c.Title, &c.AsOf, &c.CreatedBy, &c.CreatedAt,
		&c.TasksCreatedAt, &c.TaskCount, &c.ClosedAt, &c.ClosedBy, &c.ClosingNote)
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// CreateCampaign stores a new campaign (its tasks are the workflow's). A
// repeat with the same idempotency key by the same supervisor answers the
// first campaign and replayed; the key of another's is a conflict.
func (db *DB) CreateCampaign(ctx context.Context, n civicflow.NewCampaign) (*civicflow.Campaign, bool, error) {
	if bad := n.Check(); len(bad) > 0 {
		return nil, false, civicflow.Invalid(bad...)
	}
	var level string
	err := db.pool.QueryRow(ctx, `SELECT level FROM jurisdictions WHERE code = $1`, n.Scope).Scan(&level)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && level != string(civicflow.LevelCity) && level != string(civicflow.LevelDistrict)) {
		return nil, false, civicflow.Invalid(civicflow.FieldError{Field: "scope", Reason: "must be the city (610100) or a district code"})
	}
	if err != nil {
		return nil, false, mapError("campaign scope", err)
	}
	var key *string
	if n.IdempotencyKey != "" {
		key = &n.IdempotencyKey
	}
	var id int64
	err = db.pool.QueryRow(ctx, `INSERT INTO campaigns (kind, scope_code, title, as_of, created_by, created_by_name, idempotency_key)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id`,
		string(n.Kind), n.Scope, strings.TrimSpace(n.Title), chinaDate(n.AsOf), n.CreatedBy.UserID, n.CreatedBy.Username, key).Scan(&id)
	replayed := false
	if errors.Is(err, pgx.ErrNoRows) {
		var by int64
		if err := db.pool.QueryRow(ctx, `SELECT id, created_by FROM campaigns WHERE idempotency_key = $1`, key).Scan(&id, &by); err != nil {
			return nil, false, mapError("campaign of the idempotency key", err)
		}
		if by != n.CreatedBy.UserID {
			return nil, false, civicflow.Errorf(civicflow.ECONFLICT, "that Idempotency-Key was used for another request")
		}
		replayed = true
	} else if err != nil {
		return nil, false, mapError("create campaign", err)
	}
	c, err := db.Campaign(ctx, id)
	return c, replayed, err
}

// Campaign returns one campaign.
func (db *DB) Campaign(ctx context.Context, id int64) (*civicflow.Campaign, error) {
	c, err := scanCampaign(db.pool.QueryRow(ctx, `SELECT `+campaignColumns+campaignFrom+` WHERE c.id = $1`, id))
	if err != nil {
		return nil, mapError(fmt.Sprintf("campaign %d", id), err)
	}
	return c, nil
}

// CampaignFilter selects campaigns, newest first.
type CampaignFilter struct {
	// Covering is a district: the campaigns of that district and the
	// city's ("" all campaigns).
	Covering string
	// ScopeOnly is a district: only the campaigns of that district.
	ScopeOnly string
	OpenOnly  bool
	Limit     int
}

// Campaigns lists campaigns, newest first.
func (db *DB) Campaigns(ctx context.Context, f CampaignFilter) ([]civicflow.Campaign, error) {
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 200
	}
	rows, err := db.pool.Query(ctx, `SELECT `+campaignColumns+campaignFrom+`
		WHERE ($1 = '' OR c.scope_code IN ($1, '`+civicflow.CityCode+`'))
		  AND ($2 = '' OR c.scope_code = $2)
		  AND (NOT $3 OR c.closed_at IS NULL)
		ORDER BY c.id DESC LIMIT $4`, f.Covering, f.ScopeOnly, f.OpenOnly, f.Limit)
	if err != nil {
		return nil, mapError("list campaigns", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (civicflow.Campaign, error) {
		c, err := scanCampaign(r)
		if err != nil {
			return civicflow.Campaign{}, err
		}
		return *c, nil
	})
	return out, mapError("list campaigns", err)
}

// CreateTaskChunk creates the tasks of the next chunk of persons: those
// whose period of support runs on the campaign's day, in its scope, after
// AfterPersonID in person order, at most Limit. One set-based statement;
// a person's task exists at most once (UNIQUE (campaign_id, person_id)),
// so a chunk run again inserts nothing and answers Inserted 0. A person
// has at most one period running on a day (migration 009's exclusion
// constraint), so persons are keys.
func (db *DB) CreateTaskChunk(ctx context.Context, ch civicflow.TaskChunk) (civicflow.TaskChunkResult, error) {
	var r civicflow.TaskChunkResult
	if ch.Limit <= 0 || ch.Limit > 10000 {
		return r, civicflow.Invalid(civicflow.FieldError{Field: "limit", Reason: "must be 1 to 10000"})
	}
	err := db.pool.QueryRow(ctx, `WITH src AS (
			SELECT p.id AS period_id, p.person_id, p.district_code, p.township_code
			FROM register_periods p JOIN campaigns c ON c.id = $1
			WHERE p.person_id > $2 AND p.starts_on <= c.as_of AND (p.ends_on IS NULL OR p.ends_on > c.as_of)
			  AND (c.scope_code = '`+civicflow.CityCode+`' OR p.district_code = c.scope_code)
			  AND c.tasks_created_at IS NULL
			ORDER BY p.person_id LIMIT $3
		), ins AS (
			INSERT INTO campaign_tasks (campaign_id, person_id, period_id, district_code, township_code)
			SELECT $1, person_id, period_id, district_code, township_code FROM src
			ON CONFLICT (campaign_id, person_id) DO NOTHING RETURNING 1
		)
		SELECT (SELECT count(*) FROM src), (SELECT count(*) FROM ins), coalesce((SELECT max(person_id) FROM src), $2)`,
		ch.CampaignID, ch.AfterPersonID, ch.Limit).Scan(&r.Read, &r.Inserted, &r.LastPersonID)
	return r, mapError(fmt.Sprintf("create tasks of campaign %d", ch.CampaignID), err)
}

// FinishTaskCreation records that every task of the campaign exists and
// answers their number; a repeat answers the number recorded.
func (db *DB) FinishTaskCreation(ctx context.Context, campaignID int64) (int, error) {
	var n int
	err := db.pool.QueryRow(ctx, `WITH upd AS (
			UPDATE campaigns SET tasks_created_at = now(),
				task_count = (SELECT count(*) FROM campaign_tasks WHERE campaign_id = $1)
			WHERE id = $1 AND tasks_created_at IS NULL RETURNING task_count)
		SELECT task_count FROM upd UNION ALL
		SELECT task_count FROM campaigns WHERE id = $1 AND tasks_created_at IS NOT NULL`, campaignID).Scan(&n)
	return n, mapError(fmt.Sprintf("campaign %d", campaignID), err)
}

// CloseCampaign closes the campaign and answers its totals at the close;
// a repeat (a retried activity) answers the totals without closing again.
func (db *DB) CloseCampaign(ctx context.Context, cl civicflow.CampaignClosing) (civicflow.CampaignSummary, error) {
	var s civicflow.CampaignSummary
	if bad := checkOptional("note", cl.Note, 2000); len(bad) > 0 {
		return s, civicflow.Invalid(bad...)
	}
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var created, closed *time.Time
		err := tx.QueryRow(ctx, `SELECT tasks_created_at, closed_at FROM campaigns WHERE id = $1 FOR UPDATE`,
			cl.CampaignID).Scan(&created, &closed)
		if err != nil {
			return err
		}
		if created == nil {
			return civicflow.Errorf(civicflow.ECONFLICT, "the campaign's tasks are still being created")
		}
		if closed == nil {
			if _, err := tx.Exec(ctx, `UPDATE campaigns SET closed_at = $2, closed_by_name = $3, closing_note = nullif($4, '')
				WHERE id = $1`, cl.CampaignID, cl.At, cl.By.Username, strings.TrimSpace(cl.Note)); err != nil {
				return err
			}
		}
		return tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM campaign_tasks WHERE campaign_id = $1),
				(SELECT count(*) FROM campaign_tasks WHERE campaign_id = $1 AND state = 'visited'),
				(SELECT count(*) FROM campaign_ledger_items WHERE campaign_id = $1 AND closed_at IS NULL)`,
			cl.CampaignID).Scan(&s.Total, &s.Visited, &s.OpenItems)
	})
	return s, mapError(fmt.Sprintf("close campaign %d", cl.CampaignID), err)
}

func checkOptional(field, s string, max int) []civicflow.FieldError {
	if len([]rune(s)) > max {
		return []civicflow.FieldError{{Field: field, Reason: fmt.Sprintf("must be at most %d characters", max)}}
	}
	return nil
}

// CampaignBoard answers a campaign's progress per township (district ""
// the whole scope, else one district): tasks, visits, problems, open
// ledger items and persons found. Three grouped scans of one campaign's
// rows, each on its own index (docs/campaigns.md has the plan and its
// figure); districts are the sums of their townships, added by the caller.
func (db *DB) CampaignBoard(ctx context.Context, campaignID int64, district string) ([]civicflow.BoardRow, error) {
	rows, err := db.pool.Query(ctx, `WITH t AS (
			SELECT district_code, township_code, count(*) AS total,
				count(*) FILTER (WHERE state = 'visited') AS visited,
				count(*) FILTER (WHERE outcome = 'problem') AS problems
			FROM campaign_tasks WHERE campaign_id = $1 AND ($2 = '' OR district_code = $2)
			GROUP BY district_code, township_code
		), l AS (
			SELECT township_code, count(*) AS open_items FROM campaign_ledger_items
			WHERE campaign_id = $1 AND closed_at IS NULL AND ($2 = '' OR district_code = $2)
			GROUP BY township_code
		), f AS (
			SELECT township_code, count(*) AS found FROM campaign_found_persons
			WHERE campaign_id = $1 AND ($2 = '' OR district_code = $2)
			GROUP BY township_code
		), towns AS (
			SELECT township_code FROM t UNION SELECT township_code FROM f
		)
		SELECT left(w.township_code, 6), d.name, w.township_code, tj.name,
			coalesce(t.total, 0), coalesce(t.visited, 0), coalesce(t.problems, 0),
			coalesce(l.open_items, 0), coalesce(f.found, 0)
		FROM towns w
		JOIN jurisdictions tj ON tj.code = w.township_code
		JOIN jurisdictions d ON d.code = left(w.township_code, 6)
		LEFT JOIN t ON t.township_code = w.township_code
		LEFT JOIN l ON l.township_code = w.township_code
		LEFT JOIN f ON f.township_code = w.township_code
		ORDER BY w.township_code`, campaignID, district)
	if err != nil {
		return nil, mapError("campaign board", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (civicflow.BoardRow, error) {
		var b civicflow.BoardRow
		err := r.Scan(&b.DistrictCode, &b.District, &b.TownshipCode, &b.Township, &b.Total, &b.Visited, &b.Problems,
			&b.OpenItems, &b.Found)
		return b, err
	})
	return out, mapError("campaign board", err)
}

const taskColumns = `SELECT t.id, t.campaign_id, p.name, p.id_number_masked, r.form, r.care_level,
		t.district_code, t.township_code, t.state, t.visited_on, coalesce(t.visitor_name, ''), coalesce(t.findings, ''),
		coalesce(t.outcome, ''),
		(SELECT count(*) FROM campaign_ledger_items l WHERE l.task_id = t.id AND l.closed_at IS NULL)
	FROM campaign_tasks t JOIN persons p ON p.id = t.person_id JOIN register_periods r ON r.id = t.period_id`

func scanTask(r pgx.Row) (civicflow.CampaignTask, error) {
	var t civicflow.CampaignTask
	err := r.Scan(&t.ID, &t.CampaignID, &t.PersonName, &t.IDNumberMasked, &t.Form, &t.CareLevel, &t.DistrictCode,
		&t.TownshipCode, &t.State, &t.VisitedOn, &t.Visitor, &t.Findings, &t.Outcome, &t.OpenItems)
	t.PersonName = civicflow.MaskName(t.PersonName)
	return t, err
}

// CampaignTasks lists a township's tasks of a campaign by ID, names and ID
// numbers masked, with the number of open ledger items of each.
func (db *DB) CampaignTasks(ctx context.Context, f civicflow.TaskFilter) ([]civicflow.CampaignTask, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 100
	}
	rows, err := db.pool.Query(ctx, taskColumns+`
		WHERE t.campaign_id = $1 AND t.township_code = $2 AND ($3 = '' OR t.state = $3) AND t.id > $4
		ORDER BY t.id LIMIT $5`, f.CampaignID, f.TownshipCode, f.State, f.AfterID, f.Limit)
	if err != nil {
		return nil, mapError("list campaign tasks", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (civicflow.CampaignTask, error) { return scanTask(r) })
	return out, mapError("list campaign tasks", err)
}

// CampaignTask returns one task, masked as in the list.
func (db *DB) CampaignTask(ctx context.Context, taskID int64) (*civicflow.CampaignTask, error) {
	t, err := scanTask(db.pool.QueryRow(ctx, taskColumns+` WHERE t.id = $1`, taskID))
	if err != nil {
		return nil, mapError(fmt.Sprintf("campaign task %d", taskID), err)
	}
	return &t, nil
}

// TaskRef answers where a task of the campaign is, for authorisation;
// ENOTFOUND when the campaign has no such task.
func (db *DB) TaskRef(ctx context.Context, campaignID, taskID int64) (civicflow.TaskRef, error) {
	var r civicflow.TaskRef
	err := db.pool.QueryRow(ctx, `SELECT c.id, c.scope_code, t.township_code, c.closed_at IS NULL
		FROM campaign_tasks t JOIN campaigns c ON c.id = t.campaign_id WHERE t.id = $2 AND t.campaign_id = $1`,
		campaignID, taskID).Scan(&r.CampaignID, &r.Scope, &r.TownshipCode, &r.Open)
	return r, mapError(fmt.Sprintf("task %d of campaign %d", taskID, campaignID), err)
}

// LedgerItemRef answers where a ledger item of the campaign is.
func (db *DB) LedgerItemRef(ctx context.Context, campaignID, itemID int64) (civicflow.TaskRef, error) {
	var r civicflow.TaskRef
	err := db.pool.QueryRow(ctx, `SELECT c.id, c.scope_code, l.township_code, c.closed_at IS NULL
		FROM campaign_ledger_items l JOIN campaigns c ON c.id = l.campaign_id WHERE l.id = $2 AND l.campaign_id = $1`,
		campaignID, itemID).Scan(&r.CampaignID, &r.Scope, &r.TownshipCode, &r.Open)
	return r, mapError(fmt.Sprintf("ledger item %d of campaign %d", itemID, campaignID), err)
}

// RecordVisit records a visit on a pending task of an open campaign and
// opens a ledger item for each problem, in one transaction. A task
// visited already is a conflict: a visit is recorded once.
func (db *DB) RecordVisit(ctx context.Context, v civicflow.Visit) ([]civicflow.LedgerItem, error) {
	if !v.VisitedOn.IsZero() {
		v.VisitedOn = chinaDate(v.VisitedOn)
	}
	if bad := v.Check(chinaDate(time.Now())); len(bad) > 0 {
		return nil, civicflow.Invalid(bad...)
	}
	var items []civicflow.LedgerItem
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var state string
		var open bool
		err := tx.QueryRow(ctx, `SELECT t.state, c.closed_at IS NULL FROM campaign_tasks t
			JOIN campaigns c ON c.id = t.campaign_id WHERE t.id = $1 FOR UPDATE OF t`, v.TaskID).Scan(&state, &open)
		if err != nil {
			return err
		}
		if !open {
			return civicflow.Errorf(civicflow.ECONFLICT, "the campaign is closed")
		}
		if state != civicflow.TaskPending {
			return civicflow.Errorf(civicflow.ECONFLICT, "the visit of this task is recorded already")
		}
		if _, err := tx.Exec(ctx, `UPDATE campaign_tasks SET state = 'visited', visited_on = $2, visitor_id = $3,
				visitor_name = $4, findings = nullif($5, ''), outcome = $6, recorded_at = now() WHERE id = $1`,
			v.TaskID, v.VisitedOn, v.Visitor.UserID, v.Visitor.Username, strings.TrimSpace(v.Findings),
			string(v.Outcome)); err != nil {
			return err
		}
		for _, p := range v.Problems {
			it, err := insertLedgerItem(ctx, tx, v.TaskID, p, v.Visitor)
			if err != nil {
				return err
			}
			items = append(items, it)
		}
		return nil
	})
	return items, mapError(fmt.Sprintf("record the visit of task %d", v.TaskID), err)
}

func insertLedgerItem(ctx context.Context, tx pgx.Tx, taskID int64, description string, by civicflow.Actor) (civicflow.LedgerItem, error) {
	row := tx.QueryRow(ctx, `INSERT INTO campaign_ledger_items (task_id, campaign_id, district_code, township_code,
			description, opened_by_name)
		SELECT t.id, t.campaign_id, t.district_code, t.township_code, $2, $3 FROM campaign_tasks t WHERE t.id = $1
		RETURNING `+ledgerColumns, taskID, strings.TrimSpace(description), by.Username)
	return scanLedgerItem(row)
}

const ledgerColumns = `id, task_id, campaign_id, district_code, township_code, description, opened_at, opened_by_name,
	closed_at, coalesce(closed_by_name, ''), coalesce(action_taken, '')`

func scanLedgerItem(row pgx.Row) (civicflow.LedgerItem, error) {
	var it civicflow.LedgerItem
	err := row.Scan(&it.ID, &it.TaskID, &it.CampaignID, &it.DistrictCode, &it.TownshipCode, &it.Description,
		&it.OpenedAt, &it.OpenedBy, &it.ClosedAt, &it.ClosedBy, &it.ActionTaken)
	return it, err
}

// OpenLedgerItem opens one more ledger item on a visited task of an open
// campaign (a problem found after the visit).
func (db *DB) OpenLedgerItem(ctx context.Context, taskID int64, description string, by civicflow.Actor) (*civicflow.LedgerItem, error) {
	if bad := civicflow.CheckLedgerText("description", description); len(bad) > 0 {
		return nil, civicflow.Invalid(bad...)
	}
	var it civicflow.LedgerItem
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var state string
		var open bool
		err := tx.QueryRow(ctx, `SELECT t.state, c.closed_at IS NULL FROM campaign_tasks t
			JOIN campaigns c ON c.id = t.campaign_id WHERE t.id = $1 FOR SHARE OF t`, taskID).Scan(&state, &open)
		if err != nil {
			return err
		}
		if !open {
			return civicflow.Errorf(civicflow.ECONFLICT, "the campaign is closed")
		}
		if state != civicflow.TaskVisited {
			return civicflow.Errorf(civicflow.ECONFLICT, "record the visit first: its findings open the ledger")
		}
		it, err = insertLedgerItem(ctx, tx, taskID, description, by)
		return err
	})
	if err != nil {
		return nil, mapError(fmt.Sprintf("open a ledger item on task %d", taskID), err)
	}
	return &it, nil
}

// CloseLedgerItem closes a ledger item with what was done (销号). An item
// is closed once: a second close is a conflict. Items may be closed after
// the campaign closed: the problem is still to be dealt with.
func (db *DB) CloseLedgerItem(ctx context.Context, itemID int64, actionTaken string, by civicflow.Actor) (*civicflow.LedgerItem, error) {
	if bad := civicflow.CheckLedgerText("action_taken", actionTaken); len(bad) > 0 {
		return nil, civicflow.Invalid(bad...)
	}
	it, err := scanLedgerItem(db.pool.QueryRow(ctx, `UPDATE campaign_ledger_items
		SET closed_at = now(), closed_by_name = $2, action_taken = $3
		WHERE id = $1 AND closed_at IS NULL RETURNING `+ledgerColumns, itemID, by.Username, strings.TrimSpace(actionTaken)))
	if errors.Is(err, pgx.ErrNoRows) {
		var exists bool
		if err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM campaign_ledger_items WHERE id = $1)`, itemID).Scan(&exists); err != nil {
			return nil, mapError("ledger item", err)
		}
		if exists {
			return nil, civicflow.Errorf(civicflow.ECONFLICT, "the ledger item is closed already")
		}
		return nil, civicflow.Errorf(civicflow.ENOTFOUND, "ledger item %d: not found", itemID)
	}
	if err != nil {
		return nil, mapError(fmt.Sprintf("close ledger item %d", itemID), err)
	}
	return &it, nil
}

// LedgerItems lists a campaign's ledger items in a township (township ""
// every township of district, district "" the whole campaign), oldest
// first; openOnly leaves out closed ones.
func (db *DB) LedgerItems(ctx context.Context, campaignID int64, district, township string, openOnly bool) ([]civicflow.LedgerItem, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+ledgerColumns+` FROM campaign_ledger_items
		WHERE campaign_id = $1 AND ($2 = '' OR district_code = $2) AND ($3 = '' OR township_code = $3)
		  AND (NOT $4 OR closed_at IS NULL)
		ORDER BY id LIMIT 1000`, campaignID, district, township, openOnly)
	if err != nil {
		return nil, mapError("list ledger items", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (civicflow.LedgerItem, error) { return scanLedgerItem(r) })
	return out, mapError("list ledger items", err)
}

// RecordFoundPerson links the application started for a person found
// during the campaign to it; a repeat (the same request sent again)
// records nothing new.
func (db *DB) RecordFoundPerson(ctx context.Context, campaignID, caseID int64, by civicflow.Actor) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO campaign_found_persons (campaign_id, case_id, district_code, township_code,
			found_by, found_by_name)
		SELECT $1, c.id, c.district_code, c.township_code, $3, $4 FROM cases c WHERE c.id = $2
		ON CONFLICT (case_id) DO NOTHING`, campaignID, caseID, by.UserID, by.Username)
	return mapError(fmt.Sprintf("record the person found in campaign %d", campaignID), err)
}
