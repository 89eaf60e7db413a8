package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"civicflow"
	"civicflow/postgres"
	"civicflow/schema"
)

// ---- helpers shared by the tests of this package ----

var personSeq atomic.Int64

// newApplication returns a valid application for a new person (a fresh,
// valid ID number) registered in township.
func newApplication(township string) civicflow.Application {
	n := personSeq.Add(1)
	birth := time.Date(1940, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(n))
	first17 := township[:6] + birth.Format("20060102") + fmt.Sprintf("%03d", n%1000)
	id := first17 + string(civicflow.IDCheckChar(first17))
	name := fmt.Sprintf("测试%d", n)
	return civicflow.Application{
		Person: civicflow.Person{Name: name, IDNumber: id, BirthDate: birth, Male: n%2 == 1,
			Phone: "13912345678", TownshipCode: township},
		Relation:      civicflow.RelationSelf,
		ApplicantName: name,
		SelfCare:      civicflow.CareDependent,
		Address:       "小寨东路 1 号",
	}
}

// createCase records a new application in township and returns it.
func createCase(t *testing.T, db *postgres.DB, township string) *postgres.Created {
	t.Helper()
	c, err := db.CreateApplication(context.Background(), postgres.NewCase{Application: newApplication(township)})
	require.NoError(t, err)
	return c
}

func getCase(t *testing.T, db *postgres.DB, id int64) *civicflow.Case {
	t.Helper()
	c, err := db.Case(context.Background(), id)
	require.NoError(t, err)
	return c
}

// requireCode checks that err carries the domain error code.
func requireCode(t *testing.T, err error, code string) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, civicflow.ErrorCode(err), "error: %v", err)
}

// requirePgCode checks that err is a PostgreSQL error with the SQLSTATE.
func requirePgCode(t *testing.T, err error, sqlstate string) *pgconn.PgError {
	t.Helper()
	var pgErr *pgconn.PgError
	require.True(t, errors.As(err, &pgErr), "want PostgreSQL error %s, got %v", sqlstate, err)
	require.Equal(t, sqlstate, pgErr.Code, "error: %v", err)
	return pgErr
}

func requireSameTime(t *testing.T, want, got time.Time, msgAndArgs ...any) {
	t.Helper()
	require.True(t, want.Equal(got), "want %s, got %s %v", want, got, fmt.Sprint(msgAndArgs...))
}

// now returns the current time at PostgreSQL's precision.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func count(t *testing.T, db *postgres.DB, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, db.Pool().QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

// runConcurrently runs f(0..n-1) in n goroutines released at the same moment
// and waits for all of them.
func runConcurrently(n int, f func(i int)) {
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(n)
	done.Add(n)
	for i := range n {
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			f(i)
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
}

// ---- migrations and jurisdictions ----

func embeddedVersions(t *testing.T) []int {
	t.Helper()
	entries, err := fs.ReadDir(schema.Migrations, "migrations")
	require.NoError(t, err)
	var vs []int
	for _, e := range entries {
		num, _, _ := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		require.NoError(t, err, e.Name())
		vs = append(vs, v)
	}
	sort.Ints(vs)
	return vs
}

func TestMigrateAppliesAllOnceThenNone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := open(t, createDatabase(t, "")) // empty, not from the template

	want := embeddedVersions(t)
	require.GreaterOrEqual(t, len(want), 2)
	require.Equal(t, []int{1, 2}, want[:2])

	applied, err := db.Migrate(ctx)
	require.NoError(t, err)
	require.Equal(t, want, applied)
	require.Equal(t, len(want), count(t, db, `SELECT count(*) FROM schema_migrations`))

	applied, err = db.Migrate(ctx)
	require.NoError(t, err)
	require.Empty(t, applied)
	require.Equal(t, len(want), count(t, db, `SELECT count(*) FROM schema_migrations`))
}

func TestMigrateConcurrentStartsApplyEachMigrationOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := open(t, createDatabase(t, ""))

	const n = 4
	results := make([][]int, n)
	errs := make([]error, n)
	runConcurrently(n, func(i int) { results[i], errs[i] = db.Migrate(ctx) })

	var all []int
	for i := range n {
		require.NoError(t, errs[i])
		all = append(all, results[i]...)
	}
	sort.Ints(all)
	require.Equal(t, embeddedVersions(t), all, "every migration applied by exactly one caller")
}

var xianDistricts = []string{"610102", "610103", "610104", "610111", "610112", "610113", "610114",
	"610115", "610116", "610117", "610118", "610122", "610124"}

func TestJurisdictionsSeeded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)

	js, err := db.Jurisdictions(ctx)
	require.NoError(t, err)
	require.Equal(t, "610100", js[0].Code, "parents first")
	require.Equal(t, civicflow.LevelCity, js[0].Level)

	var districts []string
	seen := map[string]bool{}
	for _, j := range js {
		if j.ParentCode != "" {
			require.True(t, seen[j.ParentCode], "%s listed before its parent %s", j.Code, j.ParentCode)
		}
		seen[j.Code] = true
		if j.Level == civicflow.LevelDistrict {
			require.Equal(t, "610100", j.ParentCode, j.Code)
			districts = append(districts, j.Code)
		}
	}
	require.Equal(t, xianDistricts, districts)
	require.Len(t, districts, 13)

	j, err := db.Jurisdiction(ctx, "610113001")
	require.NoError(t, err)
	require.Equal(t, civicflow.Jurisdiction{Code: "610113001", Name: "小寨路街道", Level: civicflow.LevelTownship,
		ParentCode: "610113"}, *j)

	_, err = db.Jurisdiction(ctx, "610199")
	requireCode(t, err, civicflow.ENOTFOUND)
}

func TestJurisdictionConstraints(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)
	exec := func(sql string, args ...any) error {
		_, err := db.Pool().Exec(ctx, sql, args...)
		return err
	}
	ins := `INSERT INTO jurisdictions (code, name, level, parent_code) VALUES ($1, $2, $3, $4)`

	// A township whose code does not extend its parent district's code.
	requirePgCode(t, exec(ins, "610113099", "错位街道", "township", "610102"), "23514")
	// A community not under its township.
	requirePgCode(t, exec(ins, "610113001099", "错位社区", "community", "610113002"), "23514")
	// A township code of the wrong length.
	requirePgCode(t, exec(ins, "61011309", "短码街道", "township", "610113"), "23514")
	// A parent that does not exist.
	requirePgCode(t, exec(ins, "610199001", "无区街道", "township", "610199"), "23503")
	require.Equal(t, 0, count(t, db, `SELECT count(*) FROM jurisdictions WHERE name IN ('错位街道', '错位社区', '短码街道', '无区街道')`))

	// The same rows under the right parents are accepted.
	require.NoError(t, exec(ins, "610113099", "新街道", "township", "610113"))
	require.NoError(t, exec(ins, "610113099001", "新社区", "community", "610113099"))

	// A case's township must lie in its district.
	app := newApplication("610113001")
	_, err := db.CreateApplication(ctx, postgres.NewCase{Application: app})
	require.NoError(t, err)
	err = exec(`UPDATE cases SET township_code = '610102001'`)
	requirePgCode(t, err, "23514")
}

// ---- economic checks ----

func TestCheckResultsKeepFirstAnswerPerRound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)
	c := createCase(t, db, "610113001")

	r1 := civicflow.CheckResult{Found: true, MonthlyIncomePerCap: 300, AssetsWithinLimit: true, MinimumLivingLine: 790,
		Eligible: true, Reference: "HD-1"}
	require.NoError(t, db.SaveCheckResult(ctx, c.CaseID, 1, r1))
	changed := r1
	changed.Eligible, changed.Reference = false, "HD-1b"
	require.NoError(t, db.SaveCheckResult(ctx, c.CaseID, 1, changed), "saving a round again is not an error")
	r2 := civicflow.CheckResult{Found: false, Reference: "HD-2", Note: "no record"}
	require.NoError(t, db.SaveCheckResult(ctx, c.CaseID, 2, r2))

	got, err := db.CheckResults(ctx, c.CaseID)
	require.NoError(t, err)
	require.Equal(t, []civicflow.CheckResult{r1, r2}, got)

	requireCode(t, db.SaveCheckResult(ctx, c.CaseID, 0, r1), civicflow.EINVALID)
	requireCode(t, db.SaveCheckResult(ctx, 999999, 1, r1), civicflow.EINVALID)
}
