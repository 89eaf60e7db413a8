package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"civicflow/postgres"
)

// ReadReport is the read side with a large read model.
type ReadReport struct {
	Cases        int         `json:"cases"`
	Events       int64       `json:"events"`
	LoadSeconds  float64     `json:"load_seconds"`
	DBBytes      int64       `json:"database_bytes"`
	BytesPerCase float64     `json:"bytes_per_case"`
	TimedCases   int64       `json:"timed_cases"`
	OverdueCases int64       `json:"overdue_cases"`
	Queries      []ReadQuery `json:"queries"`
	// Stuck is what the read side loaded for the stuck list.
	Stuck StuckLoad `json:"stuck"`
	// Plans are EXPLAIN ANALYZE of the supervisors' queries, by name.
	Plans map[string]string `json:"plans,omitempty"`
}

// ReadQuery is one kind of request, timed one at a time.
type ReadQuery struct {
	Name    string  `json:"name"`
	As      string  `json:"as"`
	Example string  `json:"example"`
	Latency Latency `json:"latency"`
}

// stageMix is the spread of stages in the loaded read model: most cases
// are finished, the rest spread over the open stages.
var stageMix = `ARRAY['completed','completed','completed','completed','rejected','withdrawn','intake',
	'investigation','public_notice','district_review','awaiting_admission','departed']`

// stageDue is the clone's stage due date: the four timed stages of stageMix
// (a third of the cases) are due from 110 hours ago to 490 hours ahead, so
// about 18 % of them (6 % of all cases) are overdue, in every district and
// timed stage; the other stages have no due date, as in production.
var stageDue = "CASE WHEN (" + stageMix + ")[1 + i % 12] IN ('intake','investigation','public_notice','district_review') " +
	"THEN now() + ((i::bigint * 7919) % 600 - 110) * interval '1 hour' END"

// runReadSide grows the read model of s to rows cases by cloning the cases
// the engine test finished — each clone gets its own person, reference and
// township, a stage from stageMix and the first four timeline events of its
// template — then times the officials' list and detail endpoints through
// the running API process, one request at a time. Cloning real rows keeps
// the load independent of the exact columns of the schema: only the
// columns that must be unique, or that place a case, are rewritten.
func runReadSide(ctx context.Context, o options, s *stack, out io.Writer) (*ReadReport, error) {
	pool := s.db.Pool()
	var have int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM cases`).Scan(&have); err != nil {
		return nil, err
	}
	add := o.ReadRows - have
	fmt.Fprintf(out, "== read side: growing the read model from %d to %d cases\n", have, o.ReadRows)
	rep := &ReadReport{Cases: max(o.ReadRows, have)}
	start := time.Now()
	if add > 0 {
		if err := cloneCases(ctx, s.db, add); err != nil {
			return nil, err
		}
	}
	rep.LoadSeconds = round2(time.Since(start).Seconds())
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM case_events`).Scan(&rep.Events); err != nil {
		return nil, err
	}
	if err := pool.QueryRow(ctx, `SELECT pg_database_size(current_database())`).Scan(&rep.DBBytes); err != nil {
		return nil, err
	}
	var perCase int64
	if err := pool.QueryRow(ctx, `SELECT pg_total_relation_size('persons') + pg_total_relation_size('cases')
		+ pg_total_relation_size('case_events')`).Scan(&perCase); err != nil {
		return nil, err
	}
	rep.BytesPerCase = round2(float64(perCase) / float64(rep.Cases))
	fmt.Fprintf(out, "loaded in %.1fs: %d events, %.0f bytes per case\n", rep.LoadSeconds, rep.Events, rep.BytesPerCase)

	cl := &apiClient{base: s.cl.base}
	tokens := map[string]string{}
	var err error
	for _, u := range []string{"bench.ts", "bench.dr", "bench.sv"} {
		if tokens[u], err = cl.login(ctx, u, benchPassword); err != nil {
			return nil, err
		}
	}
	var maxID int
	if err := pool.QueryRow(ctx, `SELECT max(id) FROM cases`).Scan(&maxID); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	deep := func() string {
		lo := maxID * 8 / 10
		hi := max(lo+1, maxID-2000)
		return strconv.Itoa(lo + rng.IntN(hi-lo))
	}
	refs, err := sampleReferences(ctx, s.db, maxID, o.ReadSamples, rng)
	if err != nil {
		return nil, err
	}
	deepOverdue, err := overdueKeys(ctx, s.db, o.ReadSamples, rng)
	if err != nil {
		return nil, err
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE stage_due_at IS NOT NULL),
		count(*) FILTER (WHERE stage_due_at < now()) FROM cases`).Scan(&rep.TimedCases, &rep.OverdueCases); err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "%d cases in timed stages, %d overdue\n", rep.TimedCases, rep.OverdueCases)
	if err := loadStuckFindings(ctx, s.db, &rep.Stuck); err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "stuck findings: %d open, %d resolved, %d scan runs\n", rep.Stuck.Open, rep.Stuck.Resolved, rep.Stuck.Runs)
	deepStuck, err := stuckKeys(ctx, s.db, rng)
	if err != nil {
		return nil, err
	}
	kinds := []struct {
		name, as, key string
		path          func(i int) string
	}{
		{"list_city_first_page", "bench.sv", "cases", func(int) string { return "/api/v1/cases?limit=100" }},
		{"list_city_deep_page", "bench.sv", "cases", func(int) string { return "/api/v1/cases?limit=100&after=" + deep() }},
		{"list_township_first_page", "bench.ts", "cases", func(int) string { return "/api/v1/cases?limit=100" }},
		{"list_township_deep_page", "bench.ts", "cases", func(int) string { return "/api/v1/cases?limit=100&after=" + deep() }},
		{"list_district_stage", "bench.dr", "cases", func(int) string { return "/api/v1/cases?limit=100&stage=district_review" }},
		{"detail", "bench.sv", "", func(i int) string { return "/api/v1/cases/" + refs[i%len(refs)] }},
		// Supervision (issue 4): the overdue list, its counts and the stuck scan.
		{"overdue_city_first_page", "bench.sv", "cases", func(int) string { return "/api/v1/supervision/overdue?limit=100" }},
		{"overdue_city_deep_page", "bench.sv", "cases", func(i int) string {
			return "/api/v1/supervision/overdue?limit=100&after=" + url.QueryEscape(deepOverdue[i%len(deepOverdue)])
		}},
		{"overdue_counts_city", "bench.sv", "counts", func(int) string { return "/api/v1/supervision/overdue/counts" }},
		{"stuck_city", "bench.sv", "stuck", func(int) string { return "/api/v1/supervision/stuck" }},
		{"stuck_city_deep_page", "bench.sv", "stuck", func(i int) string {
			return "/api/v1/supervision/stuck?after=" + url.QueryEscape(deepStuck[i%len(deepStuck)])
		}},
		{"stuck_district_kind", "bench.sv", "stuck", func(int) string {
			return "/api/v1/supervision/stuck?district=610113&kind=activity_retrying"
		}},
		{"stuck_resolved", "bench.sv", "stuck", func(int) string { return "/api/v1/supervision/stuck?resolved=true" }},
	}
	for _, k := range kinds {
		var smp samples
		for i := 0; i < o.ReadSamples; i++ {
			p := k.path(i)
			t := time.Now()
			r, err := cl.call(ctx, http.MethodGet, p, tokens[k.as], nil)
			if err != nil || r.status != http.StatusOK {
				smp.fail()
				continue
			}
			if k.key != "" && !hasKey(r.raw, k.key) {
				smp.fail()
				continue
			}
			smp.add(time.Since(t))
		}
		q := ReadQuery{Name: k.name, As: k.as, Example: k.path(0), Latency: smp.summary()}
		fmt.Fprintf(out, "%-26s p50 %7.2fms p95 %7.2fms p99 %7.2fms (%d samples, %d errors)\n", k.name,
			q.Latency.P50MS, q.Latency.P95MS, q.Latency.P99MS, q.Latency.Count, q.Latency.Errors)
		rep.Queries = append(rep.Queries, q)
	}
	if rep.Plans, err = supervisionPlans(ctx, s.db); err != nil {
		return nil, err
	}
	return rep, nil
}

// overdueKeys returns n keyset positions ("due,id", the API's next_after)
// between 50 % and 90 % of the way down the overdue list: deep pages.
func overdueKeys(ctx context.Context, db *postgres.DB, n int, rng *rand.Rand) ([]string, error) {
	var overdue int
	if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM cases WHERE stage_due_at < now()`).Scan(&overdue); err != nil {
		return nil, err
	}
	if overdue < 2 {
		return []string{time.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano) + ",0"}, nil
	}
	keys := make([]string, 0, n)
	for i := 0; i < max(1, min(n, 50)); i++ {
		var due time.Time
		var id int64
		off := overdue/2 + rng.IntN(max(1, overdue*4/10))
		if err := db.Pool().QueryRow(ctx, `SELECT stage_due_at, id FROM cases WHERE stage_due_at < now()
			ORDER BY stage_due_at, id OFFSET $1 LIMIT 1`, off).Scan(&due, &id); err != nil {
			return nil, err
		}
		keys = append(keys, due.UTC().Format(time.RFC3339Nano)+","+strconv.FormatInt(id, 10))
	}
	return keys, nil
}

// supervisionPlans records how PostgreSQL runs the supervisors' queries on
// the loaded read model (EXPLAIN ANALYZE, one run each, after the timed
// requests): the plans docs/deadlines.md explains.
func supervisionPlans(ctx context.Context, db *postgres.DB) (map[string]string, error) {
	qs := map[string]string{
		"overdue_counts_city": `SELECT c.district_code, c.stage, count(*) FROM cases c WHERE c.stage_due_at < now() GROUP BY 1, 2 ORDER BY 1, 2`,
		"overdue_city_first_page": `SELECT c.id, c.reference, c.stage_due_at FROM cases c WHERE c.stage_due_at < now()
			ORDER BY c.stage_due_at, c.id LIMIT 100`,
		// As postgres.StuckFindings builds them (city; district and kind).
		"stuck_city_first_page": `SELECT * FROM stuck_findings WHERE resolved_at IS NULL AND case_id IS NOT NULL
			AND (kind <> 'activity_retrying' OR since <= now() - interval '10 minutes') ORDER BY first_seen_at, id LIMIT 200`,
		"stuck_district_kind": `SELECT * FROM stuck_findings WHERE resolved_at IS NULL AND case_id IS NOT NULL
			AND kind = 'activity_retrying' AND district_code = '610113'
			AND (kind <> 'activity_retrying' OR since <= now() - interval '10 minutes') ORDER BY first_seen_at, id LIMIT 200`,
	}
	plans := map[string]string{}
	for name, q := range qs {
		rows, err := db.Pool().Query(ctx, `EXPLAIN (ANALYZE, BUFFERS) `+q)
		if err != nil {
			return nil, fmt.Errorf("explain %s: %w", name, err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, fmt.Errorf("explain %s: %w", name, err)
		}
		plans[name] = strings.Join(lines, "\n")
	}
	return plans, nil
}

// cloneCases adds n cases, cloned from the finished ones, with set-based
// SQL. Foreign keys and triggers are skipped for the load
// (session_replication_role = replica) because the clones point only at
// rows that exist; the indexes are maintained as in production.
func cloneCases(ctx context.Context, db *postgres.DB, n int) error {
	conn, err := db.Pool().Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	var personBase, caseBase, eventBase int64
	if err := conn.QueryRow(ctx, `SELECT (SELECT coalesce(max(id), 0) FROM persons), (SELECT coalesce(max(id), 0) FROM cases),
		(SELECT coalesce(max(id), 0) FROM case_events)`).Scan(&personBase, &caseBase, &eventBase); err != nil {
		return err
	}
	// Reserve the ID ranges the clones take: the workflows of the submit
	// test may still be recording their first steps while the load runs,
	// and must draw IDs above the clones'.
	if _, err := conn.Exec(ctx, `SELECT setval('persons_id_seq', $1), setval('cases_id_seq', $2), setval('case_events_id_seq', $3)`,
		personBase+int64(n)+1, caseBase+int64(n)+1, eventBase+int64(n)*4+4); err != nil {
		return fmt.Errorf("reserve clone IDs: %w", err)
	}
	// Templates are the finished cases that were there before the load.
	const templates = `(SELECT array_agg(id ORDER BY id) ids FROM cases WHERE stage = 'completed' AND id <= %[3]d) t`
	const townships = `(SELECT array_agg(code ORDER BY code) a FROM jurisdictions WHERE level = 'township') tw`
	// Each clone statement copies every column of its template row except
	// those rewritten here; a rewritten column the schema does not have
	// (id_number before migration 003, id_number_hash after) is ignored.
	clones := []struct {
		table, alias string
		set          map[string]string
		from         string
	}{
		{"persons", "p", map[string]string{
			"id":                  "%[1]d + i",
			"id_number":           "'9' || lpad(i::text, 16, '0') || '0'",
			"id_number_hash":      "sha256(('civicflow-bench-' || i)::bytea)",
			"hukou_township_code": "tw.a[1 + i % cardinality(tw.a)]",
			"created_at":          "now() - (i % 1000) * interval '2 hour'",
		}, `generate_series(1, %[2]d) i, ` + templates + `, ` + townships + `, cases c, persons p
			WHERE c.id = t.ids[1 + (i - 1) % cardinality(t.ids)] AND p.id = c.person_id`},
		{"cases", "c", map[string]string{
			"id":               "%[3]d + i",
			"reference":        "'TK-' || left(tw.a[1 + i % cardinality(tw.a)], 6) || '-' || lpad((%[3]d + i)::text, greatest(6, length((%[3]d + i)::text)), '0')",
			"workflow_id":      "'civicflow-bench-clone-' || (%[3]d + i)",
			"person_id":        "%[1]d + i",
			"stage":            "(" + stageMix + ")[1 + i % 12]",
			"district_code":    "left(tw.a[1 + i % cardinality(tw.a)], 6)",
			"township_code":    "tw.a[1 + i % cardinality(tw.a)]",
			"community_code":   "NULL",
			"institution_id":   "NULL",
			"bed_id":           "NULL",
			"allocation_id":    "NULL",
			"stage_entered_at": "now() - (i % 1000) * interval '1 hour'",
			"created_at":       "now() - (i % 1000) * interval '2 hour'",
			"updated_at":       "now() - (i % 1000) * interval '1 hour'",
			"stage_due_at":     stageDue,
		}, `generate_series(1, %[2]d) i, ` + templates + `, ` + townships + `, cases c
			WHERE c.id = t.ids[1 + (i - 1) % cardinality(t.ids)]`},
		{"case_events", "e", map[string]string{
			"id":      "%[4]d + i * 4 + e.k",
			"case_id": "%[3]d + i",
		}, `generate_series(1, %[2]d) i, ` + templates + `,
			LATERAL (SELECT ev.*, row_number() OVER (ORDER BY ev.id) - 1 AS k FROM case_events ev
			         WHERE ev.case_id = t.ids[1 + (i - 1) % cardinality(t.ids)] ORDER BY ev.id LIMIT 4) e`},
	}
	// With few templates the planner's statistics say the tables are tiny
	// and it would scan case_events sequentially once per clone — over the
	// rows the load itself adds, quadratic; the indexes keep it linear.
	stmts := []string{`SET session_replication_role = replica`, `SET synchronous_commit = off`, `SET enable_seqscan = off`}
	for _, c := range clones {
		rows, err := conn.Query(ctx, `SELECT column_name FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1 AND is_generated = 'NEVER' ORDER BY ordinal_position`, c.table)
		if err != nil {
			return err
		}
		cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		exprs := make([]string, len(cols))
		for i, col := range cols {
			if e, ok := c.set[col]; ok {
				exprs[i] = e
			} else {
				exprs[i] = c.alias + "." + quoteIdent(col)
			}
			cols[i] = quoteIdent(col)
		}
		stmts = append(stmts, "INSERT INTO "+c.table+" ("+strings.Join(cols, ", ")+") SELECT "+strings.Join(exprs, ", ")+" FROM "+c.from)
	}
	stmts = append(stmts,
		`SELECT setval('persons_id_seq', (SELECT max(id) FROM persons))`,
		`SELECT setval('cases_id_seq', (SELECT max(id) FROM cases))`,
		`SELECT setval('case_events_id_seq', (SELECT max(id) FROM case_events))`,
		`SET session_replication_role = DEFAULT`, `RESET enable_seqscan`)
	for i, q := range stmts {
		// The numbers are the bench's own integers, formatted in.
		if strings.Contains(q, "%[") {
			q = fmt.Sprintf(strings.ReplaceAll(q, " % ", " %% "), personBase, n, caseBase, eventBase)
		}
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("clone cases, step %d: %w", i+1, err)
		}
	}
	// As after autovacuum in steady state: statistics and visibility map.
	for _, t := range []string{"persons", "cases", "case_events"} {
		if _, err := conn.Exec(ctx, `VACUUM ANALYZE `+t); err != nil {
			return fmt.Errorf("vacuum %s: %w", t, err)
		}
	}
	return nil
}

// sampleReferences returns n references of random cases.
func sampleReferences(ctx context.Context, db *postgres.DB, rows, n int, rng *rand.Rand) ([]string, error) {
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = 1 + rng.Int64N(int64(rows))
	}
	r, err := db.Pool().Query(ctx, `SELECT reference FROM cases WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var refs []string
	for r.Next() {
		var s string
		if err := r.Scan(&s); err != nil {
			return nil, err
		}
		refs = append(refs, s)
	}
	if len(refs) == 0 {
		return nil, fmt.Errorf("no cases loaded")
	}
	return refs, r.Err()
}

// hasKey reports whether the JSON object raw has the top-level key.
func hasKey(raw []byte, key string) bool {
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return false
	}
	_, ok := obj[key]
	return ok
}
