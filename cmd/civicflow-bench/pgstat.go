package main

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
)

// pgStatSetting loads pg_stat_statements into the bench's PostgreSQL, so
// each civicflow round can say which statements its cases cost. The
// bare rounds do not touch PostgreSQL; the extension's own cost (a hash
// per statement) is civicflow's to carry.
const pgStatSetting = "shared_preload_libraries=pg_stat_statements"

// Statement is one normalised statement's share of a civicflow case.
type Statement struct {
	Query        string  `json:"query"`
	CallsPerCase float64 `json:"calls_per_case"`
	MSPerCase    float64 `json:"exec_ms_per_case"` // execution time, PostgreSQL's own clock
	RowsPerCase  float64 `json:"rows_per_case"`
}

// StatementsReport is what PostgreSQL executed per civicflow case over the
// measured rounds (pg_stat_statements), heaviest first.
type StatementsReport struct {
	Cases        int         `json:"cases"`
	CallsPerCase float64     `json:"calls_per_case"`
	MSPerCase    float64     `json:"exec_ms_per_case"`
	Top          []Statement `json:"top"` // heaviest first; bench.md shows 15
}

// pgStat counts statements in one database across rounds.
type pgStat struct {
	conn  *pgx.Conn
	sum   map[int64]*pgStatRow
	cases int
}

type pgStatRow struct {
	query       string
	calls, rows int64
	ms          float64
}

func newPGStat(ctx context.Context, dbURL string) (*pgStat, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "create extension if not exists pg_stat_statements"); err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("pg_stat_statements: %w", err)
	}
	return &pgStat{conn: conn, sum: map[int64]*pgStatRow{}}, nil
}

func (p *pgStat) close() {
	if p != nil {
		p.conn.Close(context.Background())
	}
}

// reset starts a round.
func (p *pgStat) reset(ctx context.Context) error {
	if p == nil {
		return nil
	}
	_, err := p.conn.Exec(ctx, "select pg_stat_statements_reset()")
	return err
}

// collect adds what this database executed since reset, for cases cases.
func (p *pgStat) collect(ctx context.Context, cases int) error {
	if p == nil {
		return nil
	}
	rows, err := p.conn.Query(ctx, `
		select queryid, query, calls, rows, total_exec_time
		  from pg_stat_statements
		 where dbid = (select oid from pg_database where datname = current_database())
		   and query not like '%pg_stat_statements%'`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id, calls, n int64
		var q string
		var ms float64
		if err := rows.Scan(&id, &q, &calls, &n, &ms); err != nil {
			return err
		}
		r := p.sum[id]
		if r == nil {
			r = &pgStatRow{query: q}
			p.sum[id] = r
		}
		r.calls += calls
		r.rows += n
		r.ms += ms
	}
	p.cases += cases
	return rows.Err()
}

var spaces = regexp.MustCompile(`\s+`)

// report gives the top statements by execution time per case.
func (p *pgStat) report(top int) *StatementsReport {
	if p == nil || p.cases == 0 {
		return nil
	}
	c := float64(p.cases)
	rep := &StatementsReport{Cases: p.cases}
	all := make([]Statement, 0, len(p.sum))
	for _, r := range p.sum {
		q := strings.TrimSpace(spaces.ReplaceAllString(r.query, " "))
		if len(q) > 160 {
			q = q[:157] + "..."
		}
		all = append(all, Statement{Query: q, CallsPerCase: round2(float64(r.calls) / c),
			MSPerCase: round3(r.ms / c), RowsPerCase: round2(float64(r.rows) / c)})
		rep.CallsPerCase += float64(r.calls) / c
		rep.MSPerCase += r.ms / c
	}
	sort.Slice(all, func(i, j int) bool { return all[i].MSPerCase > all[j].MSPerCase })
	rep.Top = all[:min(top, len(all))]
	rep.CallsPerCase, rep.MSPerCase = round2(rep.CallsPerCase), round3(rep.MSPerCase)
	return rep
}
