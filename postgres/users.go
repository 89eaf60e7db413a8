package postgres

import (
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"civicflow"
)

// HashPassword derives a storable argon2id hash (see argon2.go).
func HashPassword(password string) (string, error) { return hashArgon2id(password) }

// checkPassword verifies password against a stored hash of either scheme:
// argon2id, or PBKDF2-SHA256 as written before migration 003 (those are
// replaced by argon2id at the next successful login).
func checkPassword(stored, password string) bool {
	if strings.HasPrefix(stored, "$argon2id$") {
		return checkArgon2id(stored, password)
	}
	return checkPBKDF2(stored, password)
}

func checkPBKDF2(stored, password string) bool {
	parts := strings.Split(stored, "$")
	if len(parts) != 4 || parts[0] != "pbkdf2-sha256" {
		return false
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < 1 {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[2])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[3])
	if err1 != nil || err2 != nil {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, password, salt, iter, len(want))
	return err == nil && subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is compared against when the user does not exist, so that a
// login takes as long for an unknown user as for a wrong password.
var dummyHash = func() string {
	h, _ := HashPassword("civicflow-no-such-user")
	return h
}()

// NewUser is an account to create.
type NewUser struct {
	Username      string
	DisplayName   string
	Password      string
	Role          civicflow.Role
	Jurisdiction  string
	InstitutionID int64
}

// EnsureUser creates the user unless the username exists, and returns its ID.
func (db *DB) EnsureUser(ctx context.Context, nu NewUser) (int64, error) {
	var id int64
	err := db.pool.QueryRow(ctx, `SELECT id FROM users WHERE username = $1`, nu.Username).Scan(&id)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, mapError("find user", err)
	}
	hash, err := HashPassword(nu.Password)
	if err != nil {
		return 0, err
	}
	var inst *int64
	if nu.InstitutionID != 0 {
		inst = &nu.InstitutionID
	}
	err = db.pool.QueryRow(ctx, `INSERT INTO users (username, display_name, password_hash, role, jurisdiction_code, institution_id)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (username) DO UPDATE SET username = excluded.username RETURNING id`,
		nu.Username, nu.DisplayName, hash, nu.Role, nu.Jurisdiction, inst).Scan(&id)
	return id, mapError("create user "+nu.Username, err)
}

// Session is a bearer token issued at login.
type Session struct {
	Token     string          `json:"token"`
	ExpiresAt time.Time       `json:"expires_at"`
	User      *civicflow.User `json:"user"`
}

// SessionTTL is how long a login lasts.
const SessionTTL = 12 * time.Hour

// A rehab assessor works at the rehab centre of their district (issue 5:
// one centre per district, migration 007).
const userColumns = `u.id, u.username, u.display_name, u.role, u.jurisdiction_code, coalesce(u.institution_id, 0),
	coalesce((SELECT rc.id FROM rehab_centres rc WHERE u.role = 'rehab_assessor' AND rc.district_code = u.jurisdiction_code), 0)`

func scanUser(row pgx.Row, extra ...any) (*civicflow.User, error) {
	var u civicflow.User
	dest := append([]any{&u.ID, &u.Username, &u.DisplayName, &u.Role, &u.Jurisdiction, &u.InstitutionID, &u.RehabCentreID}, extra...)
	return &u, row.Scan(dest...)
}

// Login checks the password and opens a session. Unknown users, disabled
// users and wrong passwords all give the same EUNAUTHORIZED error.
func (db *DB) Login(ctx context.Context, username, password string) (*Session, error) {
	var hash string
	var disabled bool
	u, err := scanUser(db.pool.QueryRow(ctx, `SELECT `+userColumns+`, u.password_hash, u.disabled FROM users u WHERE u.username = $1`,
		username), &hash, &disabled)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, mapError("find user", err)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		checkPassword(dummyHash, password)
		return nil, civicflow.Errorf(civicflow.EUNAUTHORIZED, "wrong username or password")
	}
	if !checkPassword(hash, password) || disabled {
		return nil, civicflow.Errorf(civicflow.EUNAUTHORIZED, "wrong username or password")
	}
	if needsRehash(hash) {
		// Upgrade an old PBKDF2 (or weaker argon2id) hash now that the
		// password is known; a failure here does not fail the login.
		if nh, err := HashPassword(password); err == nil {
			_, _ = db.pool.Exec(ctx, `UPDATE users SET password_hash = $2 WHERE id = $1 AND password_hash = $3`, u.ID, nh, hash)
		}
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	token := hex.EncodeToString(raw)
	expires := time.Now().Add(SessionTTL)
	if _, err := db.pool.Exec(ctx, `INSERT INTO sessions (token_hash, user_id, expires_at) VALUES ($1, $2, $3)`,
		tokenHash(token), u.ID, expires); err != nil {
		return nil, mapError("open session", err)
	}
	return &Session{Token: token, ExpiresAt: expires, User: u}, nil
}

// UserByToken returns the user of a live session.
func (db *DB) UserByToken(ctx context.Context, token string) (*civicflow.User, error) {
	u, err := scanUser(db.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.token_hash = $1 AND s.expires_at > now() AND NOT u.disabled`, tokenHash(token)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, civicflow.Errorf(civicflow.EUNAUTHORIZED, "the token is unknown or expired; log in again")
	}
	if err != nil {
		return nil, mapError("find session", err)
	}
	return u, nil
}

// Logout ends a session.
func (db *DB) Logout(ctx context.Context, token string) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM sessions WHERE token_hash = $1`, tokenHash(token))
	return mapError("end session", err)
}

func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}
