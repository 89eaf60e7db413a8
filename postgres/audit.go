package postgres

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"civicflow"
)

// Audit outcomes.
const (
	OutcomeSuccess = "success" // done (or shown)
	OutcomeDenied  = "denied"  // refused: credentials, role, jurisdiction, throttle
	OutcomeFailed  = "failed"  // refused for another reason (invalid, conflict)
	OutcomeError   = "error"   // an internal or dependency failure
)

// AuditEntry is one entry of the tamper-evident audit trail: who did what
// to which case, person, user or setting, when, from where, and how it
// ended. ID, At, PrevHash and Hash are set by AppendAudit.
type AuditEntry struct {
	ID         int64           `json:"id"`
	At         time.Time       `json:"at"`
	Actor      civicflow.Actor `json:"actor"`
	Action     string          `json:"action"`      // "case.accept", "auth.login", "case.reveal", "user.create"
	TargetType string          `json:"target_type"` // case, person, user, config, allocation, session or ""
	TargetID   string          `json:"target_id"`
	Outcome    string          `json:"outcome"`
	RemoteAddr string          `json:"remote_addr"`
	UserAgent  string          `json:"user_agent"`
	RequestID  string          `json:"request_id"`
	Details    any             `json:"details,omitempty"` // marshalled to JSON; never personal data in the clear
	PrevHash   []byte          `json:"prev_hash"`
	Hash       []byte          `json:"hash"`

	detailsJSON string // canonical jsonb text as PostgreSQL prints it; "" for none
}

// auditLimits bound what a caller can make us store from a request.
const (
	maxAuditUserAgent = 512
	maxAuditText      = 256
)

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// cut on a rune boundary
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// AppendAudit appends e to the audit trail and returns it with its ID, time
// and hashes. Appends are serialised by the lock on the audit_head row, so
// the chain has one order: the order of IDs.
func (db *DB) AppendAudit(ctx context.Context, e AuditEntry) (*AuditEntry, error) {
	e.UserAgent = clip(e.UserAgent, maxAuditUserAgent)
	e.RemoteAddr = clip(e.RemoteAddr, maxAuditText)
	e.RequestID = clip(e.RequestID, maxAuditText)
	e.TargetID = clip(e.TargetID, maxAuditText)
	var details []byte
	if e.Details != nil {
		var err error
		if details, err = json.Marshal(e.Details); err != nil {
			return nil, fmt.Errorf("audit details: %w", err)
		}
	}
	// The chain's head is locked from the first statement to the commit,
	// so every append waits for the one before it: three round trips under
	// the lock (read the head with the new ID and time, write entry and
	// head in one batch, commit), which bounds how many appends a second
	// the trail takes (docs/performance.md).
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var dj *string
		if err := tx.QueryRow(ctx, `SELECT h.last_hash, nextval('audit_log_id_seq'), now(), $1::jsonb::text
				FROM audit_head h FOR UPDATE`, nullableJSON(details)).Scan(&e.PrevHash, &e.ID, &e.At, &dj); err != nil {
			return fmt.Errorf("lock audit head: %w", err)
		}
		e.At = e.At.UTC().Truncate(time.Microsecond)
		// The details are hashed as PostgreSQL prints them back (jsonb
		// normalises key order and spacing), so verification can
		// recompute the hash from the stored row.
		e.detailsJSON = ""
		if dj != nil {
			e.detailsJSON = *dj
		}
		e.Hash = auditHash(&e)
		var userID, caseID *int64
		if e.Actor.UserID != 0 {
			userID = &e.Actor.UserID
		}
		if e.Actor.CaseID != 0 {
			caseID = &e.Actor.CaseID
		}
		b := &pgx.Batch{}
		b.Queue(`INSERT INTO audit_log (id, at, actor_user_id, actor_username, actor_role,
				actor_jurisdiction, actor_case_id, action, target_type, target_id, outcome, remote_addr, user_agent,
				request_id, details, prev_hash, hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15::jsonb, $16, $17)`,
			e.ID, e.At, userID, e.Actor.Username, string(e.Actor.Role), e.Actor.Jurisdiction, caseID, e.Action,
			e.TargetType, e.TargetID, e.Outcome, e.RemoteAddr, e.UserAgent, e.RequestID, dj, e.PrevHash, e.Hash)
		b.Queue(`UPDATE audit_head SET last_id = $1, last_hash = $2`, e.ID, e.Hash)
		br := tx.SendBatch(ctx, b)
		if _, err := br.Exec(); err != nil {
			br.Close()
			return mapError("append audit entry", err)
		}
		if _, err := br.Exec(); err != nil {
			br.Close()
			return fmt.Errorf("move audit head: %w", err)
		}
		return br.Close()
	})
	if err != nil {
		return nil, fmt.Errorf("append audit entry: %w", err)
	}
	return &e, nil
}

// nullableJSON is b as a string for a ::jsonb parameter, or nil.
func nullableJSON(b []byte) *string {
	if b == nil {
		return nil
	}
	s := string(b)
	return &s
}

// auditHash is SHA-256 over a canonical encoding of the entry: a version
// tag, then each field as a 4-byte big-endian length and its bytes, the
// previous entry's hash last. The ID is not part of it: the position of an
// entry is fixed by the link to its predecessor, so an entry moved to another
// position keeps a valid hash but breaks the links, and is reported as
// reordered rather than edited.
func auditHash(e *AuditEntry) []byte {
	var b bytes.Buffer
	field := func(s string) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(s)))
		b.Write(n[:])
		b.WriteString(s)
	}
	field("civicflow-audit-v1")
	field(e.At.UTC().Format("2006-01-02T15:04:05.000000Z"))
	field(strconv.FormatInt(e.Actor.UserID, 10))
	field(e.Actor.Username)
	field(string(e.Actor.Role))
	field(e.Actor.Jurisdiction)
	field(strconv.FormatInt(e.Actor.CaseID, 10))
	field(e.Action)
	field(e.TargetType)
	field(e.TargetID)
	field(e.Outcome)
	field(e.RemoteAddr)
	field(e.UserAgent)
	field(e.RequestID)
	field(e.detailsJSON)
	field(string(e.PrevHash))
	sum := sha256.Sum256(b.Bytes())
	return sum[:]
}

// AuditEntries lists entries of the trail about one target, oldest first.
func (db *DB) AuditEntries(ctx context.Context, targetType, targetID string, limit int) ([]AuditEntry, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := db.pool.Query(ctx, `SELECT `+auditColumns+` FROM audit_log
		WHERE target_type = $1 AND target_id = $2 ORDER BY id LIMIT $3`, targetType, targetID, limit)
	if err != nil {
		return nil, mapError("list audit entries", err)
	}
	out, err := pgx.CollectRows(rows, scanAudit)
	return out, mapError("list audit entries", err)
}

const auditColumns = `id, at, coalesce(actor_user_id, 0), actor_username, actor_role, actor_jurisdiction,
	coalesce(actor_case_id, 0), action, target_type, target_id, outcome, remote_addr, user_agent, request_id,
	coalesce(details::text, ''), prev_hash, hash`

func scanAudit(r pgx.CollectableRow) (AuditEntry, error) {
	var e AuditEntry
	var role string
	err := r.Scan(&e.ID, &e.At, &e.Actor.UserID, &e.Actor.Username, &role, &e.Actor.Jurisdiction, &e.Actor.CaseID,
		&e.Action, &e.TargetType, &e.TargetID, &e.Outcome, &e.RemoteAddr, &e.UserAgent, &e.RequestID,
		&e.detailsJSON, &e.PrevHash, &e.Hash)
	e.Actor.Role = civicflow.Role(role)
	e.At = e.At.UTC()
	if e.detailsJSON != "" {
		e.Details = json.RawMessage(e.detailsJSON)
	}
	return e, err
}

// AuditReport is the outcome of VerifyAudit.
type AuditReport struct {
	Entries  int64  // entries checked
	HeadID   int64  // the newest entry, as the chain head records it
	HeadHash string // its hash, hex: record it elsewhere to anchor the chain
	OK       bool
	// BrokenAt is the ID of the first entry found wrong (0 when OK or when
	// entries at the end are missing); Problem says what is wrong.
	BrokenAt int64
	Problem  string
}

// VerifyAudit walks the whole chain in ID order and reports the first entry
// that was edited (its content no longer gives its hash), deleted (the next
// entry links to a hash that is nowhere), or reordered (an entry links to an
// entry other than the one before it). anchorID and anchorHash, when given,
// name an entry and hash recorded earlier outside the database: the chain
// must still contain it unchanged, which catches a rewrite of the whole
// chain from that point.
func (db *DB) VerifyAudit(ctx context.Context, anchorID int64, anchorHash []byte) (*AuditReport, error) {
	rep := &AuditReport{}
	var headHash []byte
	if err := db.pool.QueryRow(ctx, `SELECT last_id, last_hash FROM audit_head`).Scan(&rep.HeadID, &headHash); err != nil {
		return nil, mapError("read audit head", err)
	}
	rep.HeadHash = hex.EncodeToString(headHash)
	// All stored hashes, to tell a reordering (the link points at an entry
	// that exists elsewhere) from a deletion (it points at nothing).
	known := map[string]int64{}
	rows, err := db.pool.Query(ctx, `SELECT id, hash FROM audit_log`)
	if err != nil {
		return nil, mapError("read audit hashes", err)
	}
	for rows.Next() {
		var id int64
		var h []byte
		if err := rows.Scan(&id, &h); err != nil {
			rows.Close()
			return nil, err
		}
		known[string(h)] = id
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, mapError("read audit hashes", err)
	}

	fail := func(id int64, format string, args ...any) (*AuditReport, error) {
		rep.BrokenAt, rep.Problem = id, fmt.Sprintf(format, args...)
		return rep, nil
	}
	prev := make([]byte, sha256.Size) // the first entry links to zeros
	var prevID int64
	anchorSeen := anchorID == 0
	const page = 1000
	for {
		rows, err := db.pool.Query(ctx, `SELECT `+auditColumns+` FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2`, prevID, page)
		if err != nil {
			return nil, mapError("read audit log", err)
		}
		entries, err := pgx.CollectRows(rows, scanAudit)
		if err != nil {
			return nil, mapError("read audit log", err)
		}
		for i := range entries {
			e := &entries[i]
			rep.Entries++
			if !bytes.Equal(auditHash(e), e.Hash) {
				return fail(e.ID, "entry %d was edited: its content does not match its hash", e.ID)
			}
			if !bytes.Equal(e.PrevHash, prev) {
				if at, ok := known[string(e.PrevHash)]; ok {
					return fail(e.ID, "entry %d was reordered: it follows entry %d in the chain, not entry %d", e.ID, at, prevID)
				}
				return fail(e.ID, "the entry before entry %d was deleted (or its hash altered): entry %d links to a hash that is not in the log", e.ID, e.ID)
			}
			if e.ID == anchorID {
				if !bytes.Equal(e.Hash, anchorHash) {
					return fail(e.ID, "entry %d does not have the anchored hash %x: the chain was rewritten", e.ID, anchorHash)
				}
				anchorSeen = true
			}
			prev, prevID = e.Hash, e.ID
		}
		if len(entries) < page {
			break
		}
	}
	if !anchorSeen {
		return fail(anchorID, "anchored entry %d is missing from the log", anchorID)
	}
	if prevID != rep.HeadID || !bytes.Equal(prev, headHash) {
		if prevID < rep.HeadID {
			return fail(0, "entries after entry %d were deleted: the chain head records entry %d", prevID, rep.HeadID)
		}
		return fail(prevID, "the chain head (entry %d) does not match the last entry %d", rep.HeadID, prevID)
	}
	rep.OK = true
	return rep, nil
}
