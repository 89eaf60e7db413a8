package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"civicflow"
)

// UserAccount is a user as administrators see it.
type UserAccount struct {
	civicflow.User
	Disabled bool `json:"disabled"`
}

// Users lists every account, by username.
func (db *DB) Users(ctx context.Context) ([]UserAccount, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+userColumns+`, u.disabled FROM users u ORDER BY u.username`)
	if err != nil {
		return nil, mapError("list users", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (UserAccount, error) {
		var a UserAccount
		u, err := scanUser(r, &a.Disabled)
		if u != nil {
			a.User = *u
		}
		return a, err
	})
	return out, mapError("list users", err)
}

// UserAccount returns one account.
func (db *DB) UserAccount(ctx context.Context, id int64) (*UserAccount, error) {
	var a UserAccount
	u, err := scanUser(db.pool.QueryRow(ctx, `SELECT `+userColumns+`, u.disabled FROM users u WHERE u.id = $1`, id), &a.Disabled)
	if err != nil {
		return nil, mapError(fmt.Sprintf("user %d", id), err)
	}
	a.User = *u
	return &a, nil
}

// CreateUser creates an account; an existing username is a conflict.
func (db *DB) CreateUser(ctx context.Context, nu NewUser) (*UserAccount, error) {
	hash, err := HashPassword(nu.Password)
	if err != nil {
		return nil, err
	}
	var inst *int64
	if nu.InstitutionID != 0 {
		inst = &nu.InstitutionID
	}
	var id int64
	err = db.pool.QueryRow(ctx, `INSERT INTO users (username, display_name, password_hash, role, jurisdiction_code, institution_id)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		nu.Username, nu.DisplayName, hash, nu.Role, nu.Jurisdiction, inst).Scan(&id)
	if err != nil {
		return nil, mapError("create user", err)
	}
	return db.UserAccount(ctx, id)
}

// SetUserDisabled disables or enables an account. Disabling ends all its
// sessions at once.
func (db *DB) SetUserDisabled(ctx context.Context, id int64, disabled bool) (*UserAccount, error) {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE users SET disabled = $2 WHERE id = $1`, id, disabled)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return pgx.ErrNoRows
		}
		if disabled {
			_, err = tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, id)
		}
		return err
	})
	if err != nil {
		return nil, mapError(fmt.Sprintf("user %d", id), err)
	}
	return db.UserAccount(ctx, id)
}

// SetPassword replaces an account's password and ends its sessions.
func (db *DB) SetPassword(ctx context.Context, id int64, password string) error {
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	return mapError(fmt.Sprintf("user %d", id), pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE users SET password_hash = $2 WHERE id = $1`, id, hash)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return pgx.ErrNoRows
		}
		_, err = tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, id)
		return err
	}))
}

// AssignRole gives an account a role and jurisdiction (and institution, for
// institution staff) and ends its sessions, so the change applies at the
// next login and no token carries the old role's context.
func (db *DB) AssignRole(ctx context.Context, id int64, role civicflow.Role, jurisdiction string, institutionID int64) (*UserAccount, error) {
	var inst *int64
	if institutionID != 0 {
		inst = &institutionID
	}
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE users SET role = $2, jurisdiction_code = $3, institution_id = $4 WHERE id = $1`,
			id, role, jurisdiction, inst)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return pgx.ErrNoRows
		}
		_, err = tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, id)
		return err
	})
	if err != nil {
		return nil, mapError(fmt.Sprintf("user %d", id), err)
	}
	return db.UserAccount(ctx, id)
}
