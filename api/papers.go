package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/labstack/echo/v4"

	"civicflow"
	"civicflow/postgres"
)

// readPaper reads the multipart field "file", checks its size and detects
// its type from the content (the name and the declared type are ignored).
func readPaper(c echo.Context) (name, contentType string, content []byte, err error) {
	fh, err := c.FormFile("file")
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return "", "", nil, echo.NewHTTPError(http.StatusRequestEntityTooLarge)
		}
		return "", "", nil, civicflow.Invalid(civicflow.FieldError{Field: "file", Reason: "send the paper as multipart/form-data in a field named file"})
	}
	if fh.Size > civicflow.MaxDocumentSize {
		return "", "", nil, &civicflow.Error{Code: civicflow.ETOOLARGE,
			Message: fmt.Sprintf("the file is %d bytes; papers may be at most %d MiB", fh.Size, civicflow.MaxDocumentSize>>20)}
	}
	f, err := fh.Open()
	if err != nil {
		return "", "", nil, fmt.Errorf("open upload: %w", err)
	}
	defer f.Close()
	content, err = io.ReadAll(io.LimitReader(f, civicflow.MaxDocumentSize+1))
	if err != nil {
		return "", "", nil, fmt.Errorf("read upload: %w", err)
	}
	if len(content) == 0 {
		return "", "", nil, civicflow.Invalid(civicflow.FieldError{Field: "file", Reason: "is empty"})
	}
	if len(content) > civicflow.MaxDocumentSize {
		return "", "", nil, civicflow.Errorf(civicflow.ETOOLARGE, "papers may be at most %d MiB", civicflow.MaxDocumentSize>>20)
	}
	contentType, _, _ = strings.Cut(http.DetectContentType(content), ";")
	if !slices.Contains(civicflow.DocumentTypes, contentType) {
		return "", "", nil, &civicflow.Error{Code: civicflow.EINVALID, Message: "unsupported paper type",
			Fields: []civicflow.FieldError{{Field: "file", Reason: "must be a PDF, JPEG or PNG file; its content looks like " + contentType}}}
	}
	return cleanFilename(fh.Filename), contentType, content, nil
}

// cleanFilename keeps a display name: no directories, no control
// characters, bounded length.
func cleanFilename(name string) string {
	name = filepath.Base(strings.ReplaceAll(name, `\`, "/"))
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '/' {
			return -1
		}
		return r
	}, name)
	if r := []rune(name); len(r) > 120 {
		name = string(r[:120])
	}
	if name == "" || name == "." {
		name = "paper"
	}
	return name
}

func (s *Server) applicantUpload(c echo.Context) error {
	cs := c.Get(ctxCase).(*civicflow.Case)
	if !cs.Stage.BeforeDecision() {
		return civicflow.Errorf(civicflow.ECONFLICT, "papers can no longer be added: the case is in stage %s", cs.Stage)
	}
	name, ct, content, err := readPaper(c)
	if err != nil {
		return err
	}
	d, err := s.store.AddDocument(c.Request().Context(), cs.ID, name, ct, "applicant", content)
	if err != nil {
		return err
	}
	auditDetail(c, "document_id", d.ID)
	auditDetail(c, "sha256", d.SHA256)
	return c.JSON(http.StatusCreated, d)
}

func (s *Server) officialUpload(c echo.Context) error {
	cs, err := s.officialCase(c)
	if err != nil {
		return err
	}
	actor := actorOf(c)
	if actor.Role != civicflow.RoleTownshipOfficial && actor.Role != civicflow.RoleDistrictReviewer {
		return civicflow.Errorf(civicflow.EFORBIDDEN, "role %s may not add papers", actor.Role)
	}
	if !cs.Stage.BeforeDecision() {
		return civicflow.Errorf(civicflow.ECONFLICT, "papers can no longer be added: the case is in stage %s", cs.Stage)
	}
	name, ct, content, err := readPaper(c)
	if err != nil {
		return err
	}
	d, err := s.store.AddDocument(c.Request().Context(), cs.ID, name, ct, actor.Username, content)
	if err != nil {
		return err
	}
	auditDetail(c, "document_id", d.ID)
	auditDetail(c, "sha256", d.SHA256)
	return c.JSON(http.StatusCreated, d)
}

func (s *Server) downloadPaper(c echo.Context) error {
	cs, err := s.officialCase(c)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return civicflow.Errorf(civicflow.ENOTFOUND, "unknown paper %q", c.Param("id"))
	}
	auditDetail(c, "document_id", id)
	d, content, err := s.store.DocumentContent(c.Request().Context(), cs.ID, id)
	if err != nil {
		return err
	}
	// A paper shows personal data unmasked: record the read before it is sent.
	if err := s.audit(c, postgres.AuditEntry{Action: "case.paper_download", TargetType: "case", TargetID: cs.Reference,
		Outcome: postgres.OutcomeSuccess}); err != nil {
		return civicflow.Errorf(civicflow.EUNAVAILABLE, "the read could not be recorded in the audit trail, so nothing is shown; try again")
	}
	c.Response().Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename*=UTF-8''%s", urlEscape(d.Filename)))
	c.Response().Header().Set("X-Content-SHA256", d.SHA256)
	c.Response().Header().Set("X-Content-Type-Options", "nosniff")
	return c.Blob(http.StatusOK, d.ContentType, content)
}

func urlEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c < 0x80 && (unicode.IsLetter(rune(c)) || unicode.IsDigit(rune(c)) || strings.IndexByte("-._~", c) >= 0) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
