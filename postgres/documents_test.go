package postgres_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"

	"civicflow"
)

func TestDocuments(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)
	cr := createCase(t, db, "610113001")
	other := createCase(t, db, "610113001")

	pdf := []byte("%PDF-1.4\n% 身份证复印件\n%%EOF\n")
	sum := sha256.Sum256(pdf)
	d, err := db.AddDocument(ctx, cr.CaseID, "id-card.pdf", "application/pdf", "applicant", pdf)
	require.NoError(t, err)
	require.Positive(t, d.ID)
	require.Equal(t, cr.CaseID, d.CaseID)
	require.Equal(t, hex.EncodeToString(sum[:]), d.SHA256)
	require.Equal(t, int64(len(pdf)), d.Size)
	require.Equal(t, "id-card.pdf", d.Filename)
	require.False(t, d.CreatedAt.IsZero())

	// The same content again (another name) is the same document.
	again, err := db.AddDocument(ctx, cr.CaseID, "copy.pdf", "application/pdf", "applicant", pdf)
	require.NoError(t, err)
	require.Equal(t, d.ID, again.ID)
	require.Equal(t, "id-card.pdf", again.Filename, "the stored document is returned")
	requireSameTime(t, d.CreatedAt, again.CreatedAt)

	png := []byte("\x89PNG\r\n\x1a\n fake image")
	p, err := db.AddDocument(ctx, cr.CaseID, "hukou.png", "image/png", "wang", png)
	require.NoError(t, err)
	require.NotEqual(t, d.ID, p.ID)

	// The same content on another case is another document.
	o, err := db.AddDocument(ctx, other.CaseID, "id-card.pdf", "application/pdf", "applicant", pdf)
	require.NoError(t, err)
	require.NotEqual(t, d.ID, o.ID)

	docs, err := db.Documents(ctx, cr.CaseID)
	require.NoError(t, err)
	require.Len(t, docs, 2)
	require.Equal(t, d.ID, docs[0].ID)
	require.Equal(t, "application/pdf", docs[0].ContentType)
	require.Equal(t, d.SHA256, docs[0].SHA256)
	require.Equal(t, "applicant", docs[0].UploadedBy)
	require.Equal(t, p.ID, docs[1].ID)
	require.Equal(t, "image/png", docs[1].ContentType)
	require.Equal(t, int64(len(png)), docs[1].Size)
	otherDocs, err := db.Documents(ctx, other.CaseID)
	require.NoError(t, err)
	require.Len(t, otherDocs, 1)

	meta, content, err := db.DocumentContent(ctx, cr.CaseID, p.ID)
	require.NoError(t, err)
	require.Equal(t, png, content)
	require.Equal(t, docs[1], *meta)
	_, content, err = db.DocumentContent(ctx, cr.CaseID, d.ID)
	require.NoError(t, err)
	require.Equal(t, pdf, content)

	// A document is only reachable through its own case.
	_, _, err = db.DocumentContent(ctx, other.CaseID, p.ID)
	requireCode(t, err, civicflow.ENOTFOUND)

	// The schema refuses other types, empty files and unknown cases.
	_, err = db.AddDocument(ctx, cr.CaseID, "notes.txt", "text/plain", "applicant", []byte("hello"))
	requireCode(t, err, civicflow.EINVALID)
	_, err = db.AddDocument(ctx, cr.CaseID, "empty.pdf", "application/pdf", "applicant", []byte{})
	requireCode(t, err, civicflow.EINVALID)
	_, err = db.AddDocument(ctx, cr.CaseID+1000, "x.pdf", "application/pdf", "applicant", []byte("%PDF-x"))
	requireCode(t, err, civicflow.EINVALID)
	require.Equal(t, 3, count(t, db, `SELECT count(*) FROM documents`))
}

// An upload retried while the first attempt is still being written must
// return the document, not fail.
func TestAddDocumentConcurrentSameContent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)
	cr := createCase(t, db, "610113001")

	// Large enough that writing it takes a moment.
	content := make([]byte, 4<<20)
	for i := range content {
		content[i] = byte(i * 7)
	}
	const n = 6
	ids := make([]int64, n)
	errs := make([]error, n)
	runConcurrently(n, func(i int) {
		d, err := db.AddDocument(ctx, cr.CaseID, "scan.pdf", "application/pdf", "applicant", content)
		errs[i] = err
		if err == nil {
			ids[i] = d.ID
		}
	})
	for i := range n {
		require.NoError(t, errs[i], "upload %d", i)
		require.Equal(t, ids[0], ids[i])
	}
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM documents`))
}
