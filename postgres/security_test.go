package postgres_test

import (
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"civicflow"
	"civicflow/postgres"
)

// Fixed test keys: every test database uses the same ring (k1 current).
var (
	testDataKey1 = base64.StdEncoding.EncodeToString([]byte("civicflow-test-data-key-one-32by"))
	testDataKey2 = base64.StdEncoding.EncodeToString([]byte("civicflow-test-data-key-two-32by"))
	testLookup   = base64.StdEncoding.EncodeToString([]byte("civicflow-test-lookup-key-32byte"))
)

func testKeyring(t testing.TB) *postgres.Keyring {
	t.Helper()
	k, err := postgres.ParseKeyring("k1:"+testDataKey1, "k1", testLookup)
	require.NoError(t, err)
	return k
}

func keyring(t *testing.T, keys, current string) *postgres.Keyring {
	t.Helper()
	k, err := postgres.ParseKeyring(keys, current, testLookup)
	require.NoError(t, err)
	return k
}

// rawRows returns every row of persons and cases as text, as someone
// reading the database files or a dump would see them.
func rawRows(t *testing.T, db *postgres.DB) string {
	t.Helper()
	var s string
	require.NoError(t, db.Pool().QueryRow(context.Background(),
		`SELECT coalesce((SELECT string_agg(row_to_json(p)::text, E'\n') FROM persons p), '') || E'\n' ||
		        coalesce((SELECT string_agg(row_to_json(c)::text, E'\n') FROM cases c), '')`).Scan(&s))
	return s
}

func TestPersonalDataSealedAtRest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)
	app := newApplication("610113001")
	app.Person.Phone = "13700001111"
	app.ApplicantPhone = "13811112222"
	app.ApplicantEmail = "li.si@example.cn"
	app.Disability = &civicflow.Disability{Kind: civicflow.DisabilityMental, Grade: 2}
	cr, err := db.CreateApplication(ctx, postgres.NewCase{Application: app})
	require.NoError(t, err)

	raw := rawRows(t, db)
	for _, secret := range []string{app.Person.IDNumber, app.Person.Phone, app.ApplicantPhone, app.ApplicantEmail, `"mental"`} {
		require.NotContains(t, raw, secret, "stored in the clear")
	}
	require.Contains(t, raw, civicflow.MaskIDNumber(app.Person.IDNumber), "the masked copy is kept for lists")
	var enc string
	require.NoError(t, db.Pool().QueryRow(ctx, `SELECT id_number_enc FROM persons`).Scan(&enc))
	require.Regexp(t, `^k1:[A-Za-z0-9+/]+=*$`, enc)

	pd, err := db.PersonalData(ctx, cr.CaseID)
	require.NoError(t, err)
	require.Equal(t, &postgres.PersonalData{IDNumber: app.Person.IDNumber, Phone: app.Person.Phone,
		ApplicantPhone: app.ApplicantPhone, ApplicantEmail: app.ApplicantEmail, Disability: app.Disability}, pd)
	c := getCase(t, db, cr.CaseID)
	require.Equal(t, "137****1111", c.PhoneMasked)
	require.True(t, c.DisabilityRecorded)

	// The same person is found by the keyed hash: a second open application
	// is a conflict naming the open case.
	h, err := db.IDNumberHash(app.Person.IDNumber)
	require.NoError(t, err)
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM persons WHERE id_number_hash = $1`, h))
	again := newApplication("610113001")
	again.Person.IDNumber = app.Person.IDNumber
	_, err = db.CreateApplication(ctx, postgres.NewCase{Application: again})
	requireCode(t, err, civicflow.ECONFLICT)
	var de *civicflow.Error
	require.ErrorAs(t, err, &de)
	require.Equal(t, cr.Reference, de.Reference)
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM persons`))

	// A sealed value copied into another column does not open.
	_, err = db.Pool().Exec(ctx, `UPDATE persons SET phone_enc = id_number_enc`)
	require.NoError(t, err)
	_, err = db.PersonalData(ctx, cr.CaseID)
	require.ErrorContains(t, err, "authentication failed")

	// Without keys, personal data is neither written nor read.
	bare, err := postgres.Open(ctx, dbURL(currentDB(t, db)))
	require.NoError(t, err)
	defer bare.Close()
	_, err = bare.PersonIDNumber(ctx, cr.CaseID)
	require.ErrorContains(t, err, "CIVICFLOW_DATA_KEYS")
	_, err = bare.CreateApplication(ctx, postgres.NewCase{Application: newApplication("610113001")})
	require.ErrorContains(t, err, "CIVICFLOW_DATA_KEYS")
}

func currentDB(t *testing.T, db *postgres.DB) string {
	t.Helper()
	var name string
	require.NoError(t, db.Pool().QueryRow(context.Background(), `SELECT current_database()`).Scan(&name))
	return name
}

func TestErrorsNameNoConstraint(t *testing.T) {
	t.Parallel()
	db := setup(t)
	bad := newApplication("610113001")
	bad.CommunityCode = "610102001001" // another township's community
	_, err := db.CreateApplication(context.Background(), postgres.NewCase{Application: bad})
	requireCode(t, err, civicflow.EINVALID)
	msg := civicflow.ErrorMessage(err)
	for _, leak := range []string{"constraint", "_check", "_fkey", "cases", "violates", "SQLSTATE"} {
		require.NotContains(t, msg, leak)
	}
}

func TestMigration003SealsExistingRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	name := createDatabase(t, "")
	old, err := postgres.Open(ctx, dbURL(name)) // no keys, like a release before 003
	require.NoError(t, err)
	defer old.Close()
	applied, err := old.MigrateTo(ctx, 2)
	require.NoError(t, err)
	require.Equal(t, []int{1, 2}, applied)
	const id, phone = "610113194001010018", "13912345678"
	first17 := id[:17]
	idn := first17 + string(civicflow.IDCheckChar(first17))
	_, err = old.Pool().Exec(ctx, `INSERT INTO persons (id, id_number, name, birth_date, male, phone, hukou_township_code)
		VALUES (1, $1, '张三', '1940-01-01', true, $2, '610113001')`, idn, phone)
	require.NoError(t, err)
	_, err = old.Pool().Exec(ctx, `INSERT INTO cases (id, reference, case_type, stage, workflow_id, person_id, district_code, township_code, address,
			relation, applicant_name, applicant_phone, applicant_email, reported_self_care, disability_kind, disability_grade,
			access_code_hash)
		VALUES (7, 'TK-610113-000007', 'centralised_care', 'intake', 'case-7', 1, '610113', '610113001', '小寨',
			'relative', '李四', '13800000000', 'li@example.cn', 'dependent', 'physical', 2, '\x00')`)
	require.NoError(t, err)

	// Without keys the migration refuses, and leaves everything as it was.
	_, err = old.Migrate(ctx)
	require.ErrorContains(t, err, "in the clear")
	require.Equal(t, 0, count(t, old, `SELECT count(*) FROM schema_migrations WHERE version = 3`))
	require.Equal(t, 1, count(t, old, `SELECT count(*) FROM persons WHERE id_number = $1`, idn))

	withKeys := open(t, name)
	applied, err = withKeys.Migrate(ctx)
	require.NoError(t, err)
	require.Contains(t, applied, 3)
	require.Equal(t, 0, count(t, withKeys, `SELECT count(*) FROM information_schema.columns
		WHERE table_name IN ('persons', 'cases') AND column_name IN ('id_number', 'phone', 'applicant_phone',
			'applicant_email', 'disability_kind', 'disability_grade')`), "plain columns dropped")
	raw := rawRows(t, withKeys)
	for _, secret := range []string{idn, phone, "13800000000", "li@example.cn", "physical"} {
		require.NotContains(t, raw, secret)
	}
	pd, err := withKeys.PersonalData(ctx, 7)
	require.NoError(t, err)
	require.Equal(t, &postgres.PersonalData{IDNumber: idn, Phone: phone, ApplicantPhone: "13800000000",
		ApplicantEmail: "li@example.cn", Disability: &civicflow.Disability{Kind: civicflow.DisabilityPhysical, Grade: 2}}, pd)
	c := getCase(t, withKeys, 7)
	require.Equal(t, civicflow.MaskIDNumber(idn), c.IDNumberMasked)
	require.Equal(t, "139****5678", c.PhoneMasked)
	// Found by its keyed hash: applying again for the same person conflicts.
	app := newApplication("610113001")
	app.Person.IDNumber = idn
	_, err = withKeys.CreateApplication(ctx, postgres.NewCase{Application: app})
	requireCode(t, err, civicflow.ECONFLICT)
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)
	var ids []int64
	for range 7 {
		app := newApplication("610113002")
		app.ApplicantEmail = "x@example.cn"
		app.Disability = &civicflow.Disability{Kind: civicflow.DisabilityVisual, Grade: 1}
		cr, err := db.CreateApplication(ctx, postgres.NewCase{Application: app})
		require.NoError(t, err)
		ids = append(ids, cr.CaseID)
	}
	before := map[int64]*postgres.PersonalData{}
	for _, id := range ids {
		pd, err := db.PersonalData(ctx, id)
		require.NoError(t, err)
		before[id] = pd
	}
	name := currentDB(t, db)
	both, err := postgres.Open(ctx, dbURL(name), postgres.WithKeyring(keyring(t, "k1:"+testDataKey1+",k2:"+testDataKey2, "k2")))
	require.NoError(t, err)
	defer both.Close()
	// New values go under k2 at once; old ones stay readable.
	cr, err := both.CreateApplication(ctx, postgres.NewCase{Application: newApplication("610113002")})
	require.NoError(t, err)
	ids = append(ids, cr.CaseID)
	for _, id := range ids {
		_, err := both.PersonalData(ctx, id)
		require.NoError(t, err)
	}
	var batches int
	n, err := both.RotateKeys(ctx, 3, func(string, int64) { batches++ })
	require.NoError(t, err)
	// 7 cases: id number, phone, e-mail, disability each (applicant phone empty).
	require.Equal(t, int64(7*4), n)
	require.Greater(t, batches, 4, "several batches")
	usage, err := both.KeyUsage(ctx)
	require.NoError(t, err)
	for _, u := range usage {
		require.Equal(t, "k2", u.KeyID, u.Column)
	}
	n, err = both.RotateKeys(ctx, 3, nil)
	require.NoError(t, err)
	require.Zero(t, n, "a second rotation has nothing to do")

	onlyK2, err := postgres.Open(ctx, dbURL(name), postgres.WithKeyring(keyring(t, "k2:"+testDataKey2, "k2")))
	require.NoError(t, err)
	defer onlyK2.Close()
	for id, want := range before {
		got, err := onlyK2.PersonalData(ctx, id)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	_, err = db.PersonalData(ctx, ids[0]) // k1 only: k2 values do not open
	require.ErrorContains(t, err, `data key "k2" is not configured`)
}

func TestKeyringRejectsBadKeys(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ keys, current, lookup, want string }{
		{"", "", testLookup, "no data keys"},
		{"k1:" + base64.StdEncoding.EncodeToString([]byte("short")), "", testLookup, "want 32 bytes"},
		{"k1:" + testDataKey1, "k9", testLookup, "not among"},
		{"K 1:" + testDataKey1, "", testLookup, "key id"},
		{"k1:" + testDataKey1, "", base64.StdEncoding.EncodeToString([]byte("short")), "lookup key"},
		{"k1:" + testDataKey1 + ",k1:" + testDataKey2, "", testLookup, "twice"},
	} {
		_, err := postgres.ParseKeyring(tc.keys, tc.current, tc.lookup)
		require.ErrorContains(t, err, tc.want, tc.keys)
		require.NotContains(t, err.Error(), testDataKey1, "keys never appear in errors")
	}
}

func appendAudit(t *testing.T, db *postgres.DB, n int) []*postgres.AuditEntry {
	t.Helper()
	var out []*postgres.AuditEntry
	for i := range n {
		e, err := db.AppendAudit(context.Background(), postgres.AuditEntry{
			Actor:  civicflow.Actor{UserID: 4, Username: "ts.xiaozhai", Role: civicflow.RoleTownshipOfficial, Jurisdiction: "610113001"},
			Action: "case.accept", TargetType: "case", TargetID: fmt.Sprintf("TK-610113-%06d", i), Outcome: postgres.OutcomeSuccess,
			RemoteAddr: "10.0.0.1", UserAgent: "test", Details: map[string]any{"status": 200, "b": "中文", "a": []int{i}},
		})
		require.NoError(t, err)
		out = append(out, e)
	}
	return out
}

// tamper runs sql as a superuser who first switched the append-only
// triggers off, as an attacker with database access would.
func tamper(t *testing.T, db *postgres.DB, sql string) {
	t.Helper()
	err := pgx.BeginFunc(context.Background(), db.Pool(), func(tx pgx.Tx) error {
		if _, err := tx.Exec(context.Background(), `SET LOCAL session_replication_role = replica`); err != nil {
			return err
		}
		_, err := tx.Exec(context.Background(), sql)
		return err
	})
	require.NoError(t, err)
}

func verify(t *testing.T, db *postgres.DB) *postgres.AuditReport {
	t.Helper()
	rep, err := db.VerifyAudit(context.Background(), 0, nil)
	require.NoError(t, err)
	return rep
}

func TestAuditChainVerifies(t *testing.T) {
	t.Parallel()
	db := setup(t)
	rep := verify(t, db)
	require.True(t, rep.OK, rep.Problem)
	require.Zero(t, rep.Entries)

	// Concurrent appends still form one chain.
	runConcurrently(8, func(int) { appendAudit(t, db, 3) })
	es := appendAudit(t, db, 2)
	rep = verify(t, db)
	require.True(t, rep.OK, rep.Problem)
	require.Equal(t, int64(26), rep.Entries)
	require.Equal(t, es[1].ID, rep.HeadID)
	require.Equal(t, fmt.Sprintf("%x", es[1].Hash), rep.HeadHash)

	// Anchors: the recorded head must still be there with its hash.
	rep, err := db.VerifyAudit(context.Background(), es[0].ID, es[0].Hash)
	require.NoError(t, err)
	require.True(t, rep.OK, rep.Problem)
	rep, err = db.VerifyAudit(context.Background(), es[0].ID, es[1].Hash)
	require.NoError(t, err)
	require.False(t, rep.OK)
	require.Contains(t, rep.Problem, "anchored hash")

	entries, err := db.AuditEntries(context.Background(), "case", es[1].TargetID, 10)
	require.NoError(t, err)
	require.NotEmpty(t, entries)
}

func TestAuditTamperingIsDetected(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		sql    func(es []*postgres.AuditEntry) string
		want   string
		atPick func(es []*postgres.AuditEntry) int64
	}{
		{"edit a field", func(es []*postgres.AuditEntry) string {
			return fmt.Sprintf(`UPDATE audit_log SET outcome = 'denied' WHERE id = %d`, es[2].ID)
		}, "was edited", func(es []*postgres.AuditEntry) int64 { return es[2].ID }},
		{"edit details", func(es []*postgres.AuditEntry) string {
			return fmt.Sprintf(`UPDATE audit_log SET details = details || '{"status": 403}' WHERE id = %d`, es[1].ID)
		}, "was edited", func(es []*postgres.AuditEntry) int64 { return es[1].ID }},
		{"edit and re-hash one entry", func(es []*postgres.AuditEntry) string {
			return fmt.Sprintf(`UPDATE audit_log SET actor_username = 'someone', hash = sha256(hash) WHERE id = %d`, es[2].ID)
		}, "was edited", func(es []*postgres.AuditEntry) int64 { return es[2].ID }},
		{"delete one in the middle", func(es []*postgres.AuditEntry) string {
			return fmt.Sprintf(`DELETE FROM audit_log WHERE id = %d`, es[2].ID)
		}, "was deleted", func(es []*postgres.AuditEntry) int64 { return es[3].ID }},
		{"delete the newest", func(es []*postgres.AuditEntry) string {
			return fmt.Sprintf(`DELETE FROM audit_log WHERE id = %d`, es[4].ID)
		}, "were deleted", func(es []*postgres.AuditEntry) int64 { return 0 }},
		{"reorder two entries", func(es []*postgres.AuditEntry) string {
			return fmt.Sprintf(`UPDATE audit_log SET id = id + 1000000 WHERE id IN (%[1]d, %[2]d);
				UPDATE audit_log SET id = %[2]d WHERE id = %[1]d + 1000000; UPDATE audit_log SET id = %[1]d WHERE id = %[2]d + 1000000`, es[1].ID, es[3].ID)
		}, "was reordered", func(es []*postgres.AuditEntry) int64 { return es[1].ID }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := setup(t)
			es := appendAudit(t, db, 5)
			require.True(t, verify(t, db).OK)
			tamper(t, db, tc.sql(es))
			rep := verify(t, db)
			require.False(t, rep.OK)
			require.Contains(t, rep.Problem, tc.want)
			require.Equal(t, tc.atPick(es), rep.BrokenAt, rep.Problem)
		})
	}
}

func TestAuditLogIsAppendOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)
	appendAudit(t, db, 2)
	// Even the owner (a superuser here) cannot change it without first
	// switching the triggers off.
	for _, sql := range []string{`UPDATE audit_log SET outcome = 'denied'`, `DELETE FROM audit_log`,
		`TRUNCATE audit_log`, `UPDATE audit_head SET last_id = 0`, `DELETE FROM audit_head`} {
		_, err := db.Pool().Exec(ctx, sql)
		require.Error(t, err, sql)
	}
	require.True(t, verify(t, db).OK)
}

// TestApplicationRoleCannotChangeAudit connects as a role given only what
// civicflow_grant_app_role grants, as the application runs in production.
func TestApplicationRoleCannotChangeAudit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	name := createDatabase(t, templateDB)
	role := "app_" + name
	_, err := adminPool.Exec(ctx, fmt.Sprintf(`CREATE ROLE %s LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE`, role))
	require.NoError(t, err)
	owner := open(t, name)
	_, err = owner.Pool().Exec(ctx, `SELECT civicflow_grant_app_role($1)`, role)
	require.NoError(t, err)
	t.Cleanup(func() {
		if _, err := owner.Pool().Exec(context.Background(), fmt.Sprintf(`DROP OWNED BY %s`, role)); err != nil {
			t.Logf("drop owned: %v", err)
		}
		if _, err := adminPool.Exec(context.Background(), `DROP ROLE IF EXISTS `+role); err != nil {
			t.Logf("drop role: %v", err)
		}
	})

	u, err := url.Parse(dbURL(name))
	require.NoError(t, err)
	u.User = url.User(role)
	app, err := postgres.Open(ctx, u.String(), postgres.WithKeyring(testKeyring(t)))
	require.NoError(t, err)
	defer app.Close()
	var super bool
	require.NoError(t, app.Pool().QueryRow(ctx, `SELECT rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&super))
	require.False(t, super)

	// The application's work succeeds under the role...
	cr, err := app.CreateApplication(ctx, postgres.NewCase{Application: newApplication("610113001")})
	require.NoError(t, err)
	require.NoError(t, app.RecordTransition(ctx, civicflow.Transition{CaseID: cr.CaseID, Key: "start", Seq: 1,
		Action: "submit", To: civicflow.StageIntake, Actor: civicflow.SystemActor, At: time.Now()}))
	appendAudit(t, app, 3)
	rep, err := app.VerifyAudit(ctx, 0, nil)
	require.NoError(t, err)
	require.True(t, rep.OK, rep.Problem)
	// ...but rewriting history is refused by the grants, before any trigger.
	for _, sql := range []string{`UPDATE audit_log SET outcome = 'denied'`, `DELETE FROM audit_log`, `TRUNCATE audit_log`,
		`UPDATE case_events SET reasons = 'x'`, `DELETE FROM case_events`, `DELETE FROM audit_head`,
		`ALTER TABLE audit_log DISABLE TRIGGER USER`, `SET session_replication_role = replica`} {
		_, err := app.Pool().Exec(ctx, sql)
		requirePgCode(t, err, "42501") // insufficient privilege
	}
	require.Equal(t, 3, count(t, owner, `SELECT count(*) FROM audit_log`))
}

func TestThrottle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)
	lim := postgres.Limit{Max: 3, Window: time.Minute, Lockout: time.Hour}
	for i := 1; i <= 3; i++ {
		until, err := db.RecordFailure(ctx, "user:wang", lim)
		require.NoError(t, err)
		require.Equal(t, i == 3, !until.IsZero(), "failure %d", i)
	}
	until, err := db.LockedUntil(ctx, "user:wang", "ip:10.0.0.9")
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(time.Hour), until, time.Minute)
	until, err = db.LockedUntil(ctx, "user:li")
	require.NoError(t, err)
	require.True(t, until.IsZero())
	// An old window starts over.
	_, err = db.Pool().Exec(ctx, `UPDATE auth_throttle SET window_start = now() - interval '2 minutes', locked_until = NULL`)
	require.NoError(t, err)
	until, err = db.RecordFailure(ctx, "user:wang", lim)
	require.NoError(t, err)
	require.True(t, until.IsZero())
	require.Equal(t, 1, count(t, db, `SELECT failures FROM auth_throttle WHERE key = 'user:wang'`))
	require.NoError(t, db.ClearFailures(ctx, "user:wang"))
	require.Equal(t, 0, count(t, db, `SELECT count(*) FROM auth_throttle`))
}

func TestPasswordsArgon2idAndOldHashesUpgraded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)
	id, err := db.EnsureUser(ctx, postgres.NewUser{Username: "old.user", DisplayName: "老用户", Password: "irrelevant-password",
		Role: civicflow.RoleTownshipOfficial, Jurisdiction: "610113001"})
	require.NoError(t, err)
	// A hash as written before migration 003.
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	key, err := pbkdf2.Key(sha256.New, "old password 1", salt, 1000, 32)
	require.NoError(t, err)
	old := fmt.Sprintf("pbkdf2-sha256$1000$%s$%s", base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
	_, err = db.Pool().Exec(ctx, `UPDATE users SET password_hash = $2 WHERE id = $1`, id, old)
	require.NoError(t, err)
	_, err = db.Login(ctx, "old.user", "wrong")
	requireCode(t, err, civicflow.EUNAUTHORIZED)
	_, err = db.Login(ctx, "old.user", "old password 1")
	require.NoError(t, err)
	var stored string
	require.NoError(t, db.Pool().QueryRow(ctx, `SELECT password_hash FROM users WHERE id = $1`, id).Scan(&stored))
	require.True(t, strings.HasPrefix(stored, "$argon2id$"), stored)
	_, err = db.Login(ctx, "old.user", "old password 1")
	require.NoError(t, err, "the upgraded hash verifies")
}

func TestUserAdministration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)
	u, err := db.CreateUser(ctx, postgres.NewUser{Username: "zhao.new", DisplayName: "赵新", Password: "a long password 1",
		Role: civicflow.RoleTownshipOfficial, Jurisdiction: "610113001"})
	require.NoError(t, err)
	_, err = db.CreateUser(ctx, postgres.NewUser{Username: "zhao.new", DisplayName: "x", Password: "a long password 1",
		Role: civicflow.RoleTownshipOfficial, Jurisdiction: "610113001"})
	requireCode(t, err, civicflow.ECONFLICT)
	login := func(pw string) *postgres.Session {
		s, err := db.Login(ctx, "zhao.new", pw)
		require.NoError(t, err)
		return s
	}
	s := login("a long password 1")
	_, err = db.SetUserDisabled(ctx, u.ID, true)
	require.NoError(t, err)
	_, err = db.UserByToken(ctx, s.Token)
	requireCode(t, err, civicflow.EUNAUTHORIZED)
	_, err = db.Login(ctx, "zhao.new", "a long password 1")
	requireCode(t, err, civicflow.EUNAUTHORIZED)
	acc, err := db.SetUserDisabled(ctx, u.ID, false)
	require.NoError(t, err)
	require.False(t, acc.Disabled)

	s = login("a long password 1")
	require.NoError(t, db.SetPassword(ctx, u.ID, "another long password"))
	_, err = db.UserByToken(ctx, s.Token)
	requireCode(t, err, civicflow.EUNAUTHORIZED) // a reset ends sessions
	s = login("another long password")
	acc, err = db.AssignRole(ctx, u.ID, civicflow.RoleDistrictReviewer, "610113", 0)
	require.NoError(t, err)
	require.Equal(t, civicflow.RoleDistrictReviewer, acc.Role)
	_, err = db.UserByToken(ctx, s.Token)
	requireCode(t, err, civicflow.EUNAUTHORIZED)
	_, err = db.AssignRole(ctx, u.ID, civicflow.RoleTownshipOfficial, "610113", 0) // township role, district code
	requireCode(t, err, civicflow.EINVALID)
	_, err = db.SetUserDisabled(ctx, 999999, true)
	requireCode(t, err, civicflow.ENOTFOUND)
	all, err := db.Users(ctx)
	require.NoError(t, err)
	require.Len(t, all, 1)
}

// Every kind of entry (no user, an applicant, Unicode, empty and nested
// details, an over-long user agent) gets a hash VerifyAudit recomputes from
// the stored row, and each answer links to the one before it.
func TestAuditAppendHashesAsGo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)
	before := time.Now().Add(-time.Second)
	entries := []postgres.AuditEntry{
		{Actor: civicflow.SystemActor, Action: "case.submit", TargetType: "case", TargetID: "TK-610113-000001", Outcome: postgres.OutcomeSuccess},
		{Actor: civicflow.Actor{Role: civicflow.RoleApplicant, CaseID: 77}, Action: "case.withdraw", TargetType: "case",
			TargetID: "TK-610113-000077", Outcome: postgres.OutcomeDenied, RemoteAddr: "2001:db8::1", UserAgent: "Mozilla/5.0 (中文; 𠀀)",
			RequestID: "req-1", Details: map[string]any{"z": 1, "a": map[string]any{"y": []string{"乙", "甲"}}, "empty": ""}},
		{Actor: civicflow.Actor{UserID: 12, Username: "张三·李", Role: civicflow.RoleDistrictReviewer, Jurisdiction: "610113"},
			Action: "user.create", TargetType: "user", TargetID: "12", Outcome: postgres.OutcomeFailed, Details: []int{}},
		{Actor: civicflow.Actor{UserID: 3, Username: "x", Role: civicflow.RoleAdministrator}, Action: "config.calendar", Outcome: postgres.OutcomeError,
			UserAgent: strings.Repeat("u", 600)}, // clipped to 512 bytes before hashing
	}
	var prev *postgres.AuditEntry
	for _, in := range entries {
		e, err := db.AppendAudit(ctx, in)
		require.NoError(t, err)
		require.Len(t, e.Hash, 32)
		require.True(t, e.At.After(before) && e.At.Before(time.Now().Add(time.Second)), "at %v", e.At)
		if prev != nil {
			require.Equal(t, prev.Hash, e.PrevHash, "entry %d links to the one before", e.ID)
			require.Greater(t, e.ID, prev.ID)
		}
		prev = e
	}
	rep := verify(t, db)
	require.True(t, rep.OK, rep.Problem)
	require.Equal(t, int64(len(entries)), rep.Entries)
	require.Equal(t, fmt.Sprintf("%x", prev.Hash), rep.HeadHash)

	// Bad input changes nothing: the row's constraints refuse it and the
	// head stays where it was.
	_, err := db.AppendAudit(ctx, postgres.AuditEntry{Actor: civicflow.SystemActor, Action: "Not An Action", Outcome: postgres.OutcomeSuccess})
	require.Error(t, err)
	rep = verify(t, db)
	require.True(t, rep.OK, rep.Problem)
	require.Equal(t, int64(len(entries)), rep.Entries)
	require.Equal(t, prev.ID, rep.HeadID)
}

// BenchmarkAuditAppend measures appends to the audit trail from 8 ×
// GOMAXPROCS concurrent callers (every API request that is audited appends
// one, and all of them queue on the chain's head): appends/s is the trail's
// ceiling on this machine. Run: go test ./postgres -run '^$' -bench AuditAppend
func BenchmarkAuditAppend(b *testing.B) {
	db := setup(b)
	entry := postgres.AuditEntry{
		Actor:  civicflow.Actor{UserID: 4, Username: "ts.xiaozhai", Role: civicflow.RoleTownshipOfficial, Jurisdiction: "610113001"},
		Action: "case.accept", TargetType: "case", TargetID: "TK-610113-000001", Outcome: postgres.OutcomeSuccess,
		RemoteAddr: "10.0.0.1", UserAgent: "bench", Details: map[string]any{"status": 200},
	}
	b.SetParallelism(8) // × GOMAXPROCS callers
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := db.AppendAudit(context.Background(), entry); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "appends/s")
	if rep, err := db.VerifyAudit(context.Background(), 0, nil); err != nil || !rep.OK {
		b.Fatalf("chain after the benchmark: %v %+v", err, rep)
	}
}
