package postgres

import (
	"context"
	"time"
)

// Limit says how many failures a key may collect within Window before it is
// locked for Lockout.
type Limit struct {
	Max     int
	Window  time.Duration
	Lockout time.Duration
}

// LockedUntil returns the latest time until which any of keys is locked, or
// the zero time when none is. The counters live in PostgreSQL, so every API
// instance sees the same locks.
func (db *DB) LockedUntil(ctx context.Context, keys ...string) (time.Time, error) {
	var until *time.Time
	err := db.pool.QueryRow(ctx, `SELECT max(locked_until) FROM auth_throttle
		WHERE key = ANY($1) AND locked_until > now()`, keys).Scan(&until)
	if err != nil {
		return time.Time{}, mapError("read throttle", err)
	}
	if until == nil {
		return time.Time{}, nil
	}
	return *until, nil
}

// RecordFailure counts one failure against key and locks the key when it
// reaches the limit within the window. It returns the lock's end, or the
// zero time when the key is not locked.
func (db *DB) RecordFailure(ctx context.Context, key string, l Limit) (time.Time, error) {
	var until *time.Time
	err := db.pool.QueryRow(ctx, `INSERT INTO auth_throttle AS t (key, failures, window_start, locked_until)
		VALUES ($1, 1, now(), CASE WHEN 1 >= $2 THEN now() + $4 END)
		ON CONFLICT (key) DO UPDATE SET
			failures = CASE WHEN t.window_start + $3 < now() THEN 1 ELSE t.failures + 1 END,
			window_start = CASE WHEN t.window_start + $3 < now() THEN now() ELSE t.window_start END,
			locked_until = CASE
				WHEN (CASE WHEN t.window_start + $3 < now() THEN 1 ELSE t.failures + 1 END) >= $2
					THEN greatest(coalesce(t.locked_until, now()), now() + $4)
				ELSE t.locked_until END
		RETURNING CASE WHEN locked_until > now() THEN locked_until END`,
		key, l.Max, l.Window, l.Lockout).Scan(&until)
	if err != nil {
		return time.Time{}, mapError("record failure", err)
	}
	if until == nil {
		return time.Time{}, nil
	}
	return *until, nil
}

// ClearFailures forgets the failures of keys (after a success).
func (db *DB) ClearFailures(ctx context.Context, keys ...string) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM auth_throttle WHERE key = ANY($1)`, keys)
	return mapError("clear throttle", err)
}
