package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"civicflow"
)

// AddDocument stores a paper for a case with its SHA-256. Adding the same
// content to the same case again returns the existing document.
func (db *DB) AddDocument(ctx context.Context, caseID int64, filename, contentType, uploadedBy string, content []byte) (*civicflow.Document, error) {
	sum := sha256.Sum256(content)
	d := civicflow.Document{CaseID: caseID, Filename: filename, ContentType: contentType,
		Size: int64(len(content)), SHA256: hex.EncodeToString(sum[:]), UploadedBy: uploadedBy}
	// When a concurrent upload of the same content commits after this
	// statement took its snapshot, the insert does nothing and the select
	// cannot see that row yet: a second statement, with a new snapshot, does.
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		err = db.pool.QueryRow(ctx, `WITH ins AS (
			INSERT INTO documents (case_id, filename, content_type, size, sha256, content, uploaded_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (case_id, sha256) DO NOTHING
			RETURNING id, filename, created_at)
		SELECT id, filename, created_at FROM ins
		UNION ALL SELECT id, filename, created_at FROM documents WHERE case_id = $1 AND sha256 = $5
		LIMIT 1`,
			caseID, filename, contentType, d.Size, d.SHA256, content, uploadedBy).Scan(&d.ID, &d.Filename, &d.CreatedAt)
		if !errors.Is(err, pgx.ErrNoRows) {
			break
		}
	}
	if err != nil {
		return nil, mapError("add document", err)
	}
	return &d, nil
}

// Documents lists a case's papers without their content.
func (db *DB) Documents(ctx context.Context, caseID int64) ([]civicflow.Document, error) {
	rows, err := db.pool.Query(ctx, documentsSQL, caseID)
	if err != nil {
		return nil, mapError("list documents", err)
	}
	return collectDocuments(rows)
}

const documentsSQL = `SELECT id, case_id, filename, content_type, size, sha256, uploaded_by, created_at
		FROM documents WHERE case_id = $1 ORDER BY id`

func collectDocuments(rows pgx.Rows) ([]civicflow.Document, error) {
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (civicflow.Document, error) {
		var d civicflow.Document
		err := r.Scan(&d.ID, &d.CaseID, &d.Filename, &d.ContentType, &d.Size, &d.SHA256, &d.UploadedBy, &d.CreatedAt)
		return d, err
	})
	return out, mapError("list documents", err)
}

// DocumentContent returns one paper of a case with its content.
func (db *DB) DocumentContent(ctx context.Context, caseID, docID int64) (*civicflow.Document, []byte, error) {
	var d civicflow.Document
	var content []byte
	err := db.pool.QueryRow(ctx, `SELECT id, case_id, filename, content_type, size, sha256, uploaded_by, created_at, content
		FROM documents WHERE case_id = $1 AND id = $2`, caseID, docID).Scan(&d.ID, &d.CaseID, &d.Filename,
		&d.ContentType, &d.Size, &d.SHA256, &d.UploadedBy, &d.CreatedAt, &content)
	if err != nil {
		return nil, nil, mapError(fmt.Sprintf("document %d", docID), err)
	}
	return &d, content, nil
}
