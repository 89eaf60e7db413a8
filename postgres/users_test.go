package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"civicflow"
	"civicflow/postgres"
)

func TestUsersLoginAndSessions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)

	nu := postgres.NewUser{Username: "wang.township", DisplayName: "王科员", Password: "correct horse battery",
		Role: civicflow.RoleTownshipOfficial, Jurisdiction: "610113001"}
	id, err := db.EnsureUser(ctx, nu)
	require.NoError(t, err)
	require.Positive(t, id)

	// Ensuring again returns the same user and keeps its password.
	changed := nu
	changed.Password = "another password"
	again, err := db.EnsureUser(ctx, changed)
	require.NoError(t, err)
	require.Equal(t, id, again)
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM users`))

	var stored string
	require.NoError(t, db.Pool().QueryRow(ctx, `SELECT password_hash FROM users WHERE id = $1`, id).Scan(&stored))
	require.True(t, strings.HasPrefix(stored, "$argon2id$v=19$m=19456,t=2,p=1$"), stored)
	require.NotContains(t, stored, nu.Password)

	before := time.Now()
	s, err := db.Login(ctx, nu.Username, nu.Password)
	require.NoError(t, err)
	require.Regexp(t, `^[0-9a-f]{64}$`, s.Token)
	require.WithinDuration(t, before.Add(postgres.SessionTTL), s.ExpiresAt, time.Minute)
	want := &civicflow.User{ID: id, Username: nu.Username, DisplayName: nu.DisplayName,
		Role: civicflow.RoleTownshipOfficial, Jurisdiction: "610113001"}
	require.Equal(t, want, s.User)
	require.Equal(t, 0, count(t, db, `SELECT count(*) FROM sessions WHERE token_hash = convert_to($1, 'UTF8')`, s.Token),
		"the token itself is not stored")
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM sessions WHERE token_hash = sha256(convert_to($1, 'UTF8')) AND user_id = $2`, s.Token, id),
		"its SHA-256 is")

	u, err := db.UserByToken(ctx, s.Token)
	require.NoError(t, err)
	require.Equal(t, want, u)

	_, err = db.Login(ctx, nu.Username, "wrong password")
	requireCode(t, err, civicflow.EUNAUTHORIZED)
	_, err = db.Login(ctx, nu.Username, changed.Password)
	requireCode(t, err, civicflow.EUNAUTHORIZED)
	_, err = db.Login(ctx, "nobody", nu.Password)
	requireCode(t, err, civicflow.EUNAUTHORIZED)
	_, err = db.UserByToken(ctx, strings.Repeat("0", 64))
	requireCode(t, err, civicflow.EUNAUTHORIZED)

	// Logout ends that session only.
	s2, err := db.Login(ctx, nu.Username, nu.Password)
	require.NoError(t, err)
	require.NotEqual(t, s.Token, s2.Token)
	require.NoError(t, db.Logout(ctx, s.Token))
	_, err = db.UserByToken(ctx, s.Token)
	requireCode(t, err, civicflow.EUNAUTHORIZED)
	u, err = db.UserByToken(ctx, s2.Token)
	require.NoError(t, err)
	require.Equal(t, id, u.ID)

	// An expired session is refused.
	_, err = db.Pool().Exec(ctx, `UPDATE sessions SET expires_at = now() - interval '1 second'`)
	require.NoError(t, err)
	_, err = db.UserByToken(ctx, s2.Token)
	requireCode(t, err, civicflow.EUNAUTHORIZED)

	// A disabled user can neither log in nor use a live session.
	s3, err := db.Login(ctx, nu.Username, nu.Password)
	require.NoError(t, err)
	_, err = db.Pool().Exec(ctx, `UPDATE users SET disabled = true WHERE id = $1`, id)
	require.NoError(t, err)
	_, err = db.UserByToken(ctx, s3.Token)
	requireCode(t, err, civicflow.EUNAUTHORIZED)
	_, err = db.Login(ctx, nu.Username, nu.Password)
	requireCode(t, err, civicflow.EUNAUTHORIZED)
}

func TestUserRoleConstraints(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)

	// institution_staff needs an institution, and only they may have one.
	_, err := db.EnsureUser(ctx, postgres.NewUser{Username: "zhao.staff", DisplayName: "赵", Password: "pw-123456",
		Role: civicflow.RoleInstitutionStaff, Jurisdiction: "610113"})
	requireCode(t, err, civicflow.EINVALID)

	inst := ensureInstitution(t, db, "雁塔区福利院", "610113", map[civicflow.CareLevel]int{civicflow.CareSelf: 1})
	_, err = db.EnsureUser(ctx, postgres.NewUser{Username: "li.reviewer", DisplayName: "李", Password: "pw-123456",
		Role: civicflow.RoleDistrictReviewer, Jurisdiction: "610113", InstitutionID: inst})
	requireCode(t, err, civicflow.EINVALID)

	// A township official needs a township, a reviewer a district.
	_, err = db.EnsureUser(ctx, postgres.NewUser{Username: "wang.township", DisplayName: "王", Password: "pw-123456",
		Role: civicflow.RoleTownshipOfficial, Jurisdiction: "610113"})
	requireCode(t, err, civicflow.EINVALID)
	_, err = db.EnsureUser(ctx, postgres.NewUser{Username: "li.reviewer", DisplayName: "李", Password: "pw-123456",
		Role: civicflow.RoleDistrictReviewer, Jurisdiction: "610113001"})
	requireCode(t, err, civicflow.EINVALID)
	// Unknown jurisdiction, bad username, unknown role.
	_, err = db.EnsureUser(ctx, postgres.NewUser{Username: "sup.x", DisplayName: "x", Password: "pw-123456",
		Role: civicflow.RoleSupervisor, Jurisdiction: "610199"})
	requireCode(t, err, civicflow.EINVALID)
	_, err = db.EnsureUser(ctx, postgres.NewUser{Username: "Bad Name", DisplayName: "x", Password: "pw-123456",
		Role: civicflow.RoleSupervisor, Jurisdiction: civicflow.CityCode})
	requireCode(t, err, civicflow.EINVALID)
	_, err = db.EnsureUser(ctx, postgres.NewUser{Username: "app.x", DisplayName: "x", Password: "pw-123456",
		Role: civicflow.RoleApplicant, Jurisdiction: civicflow.CityCode})
	requireCode(t, err, civicflow.EINVALID)
	require.Equal(t, 0, count(t, db, `SELECT count(*) FROM users`))

	// Institution staff with an institution: the session carries it.
	id, err := db.EnsureUser(ctx, postgres.NewUser{Username: "zhao.staff", DisplayName: "赵", Password: "pw-123456",
		Role: civicflow.RoleInstitutionStaff, Jurisdiction: "610113", InstitutionID: inst})
	require.NoError(t, err)
	s, err := db.Login(ctx, "zhao.staff", "pw-123456")
	require.NoError(t, err)
	require.Equal(t, id, s.User.ID)
	require.Equal(t, inst, s.User.InstitutionID)
	require.Equal(t, civicflow.RoleInstitutionStaff, s.User.Role)
	u, err := db.UserByToken(ctx, s.Token)
	require.NoError(t, err)
	require.Equal(t, inst, u.InstitutionID)
}
