package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"
	"github.com/labstack/echo/v4"

	"civicflow"
)

// newValidator returns a validator that names fields by their JSON names
// and knows civicflow's own rules.
func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			return ""
		}
		return name
	})
	must := func(err error) {
		if err != nil {
			panic(err) // tags are constants: a failure is a programming error
		}
	}
	must(v.RegisterValidation("idnumber", func(fl validator.FieldLevel) bool {
		_, reason := civicflow.ParseIDNumber(fl.Field().String(), time.Now())
		return reason == ""
	}))
	must(v.RegisterValidation("mobile", func(fl validator.FieldLevel) bool {
		return civicflow.ValidMobile(fl.Field().String())
	}))
	must(v.RegisterValidation("personname", func(fl validator.FieldLevel) bool {
		return civicflow.NameReason(fl.Field().String()) == ""
	}))
	must(v.RegisterValidation("notblank", func(fl validator.FieldLevel) bool {
		return strings.TrimSpace(fl.Field().String()) != ""
	}))
	must(v.RegisterValidation("date", func(fl validator.FieldLevel) bool {
		_, err := time.Parse("2006-01-02", fl.Field().String())
		return err == nil
	}))
	return v
}

// validate runs the validator and turns its complaints into a 422 listing
// each field with a reason a person can act on.
func (s *Server) validate(v any) error {
	err := s.validator.Struct(v)
	if err == nil {
		return nil
	}
	var ves validator.ValidationErrors
	if !errors.As(err, &ves) {
		return fmt.Errorf("validate request: %w", err)
	}
	fields := make([]civicflow.FieldError, 0, len(ves))
	for _, fe := range ves {
		fields = append(fields, civicflow.FieldError{Field: fieldPath(fe.Namespace()), Reason: reason(fe)})
	}
	return civicflow.Invalid(fields...)
}

// fieldPath turns a validator namespace into the JSON path of the field:
// it drops the Go type name that starts it and the names of embedded
// structs (wire.PersonIdentity), which JSON flattens. JSON names are
// lower case, Go names are not.
func fieldPath(ns string) string {
	if _, rest, ok := strings.Cut(ns, "."); ok {
		ns = rest
	}
	return withoutGoNames(ns)
}

// withoutGoNames drops the embedded structs' Go names from a dotted field
// path (encoding/json names them in its type errors too).
func withoutGoNames(path string) string {
	parts := strings.Split(path, ".")
	out := parts[:0]
	for _, p := range parts {
		if p != "" && unicode.IsUpper(rune(p[0])) {
			continue
		}
		out = append(out, p)
	}
	return strings.Join(out, ".")
}

func reason(fe validator.FieldError) string {
	s, _ := fe.Value().(string)
	switch fe.Tag() {
	case "required", "required_unless", "required_if", "notblank":
		return "is required"
	case "idnumber":
		_, r := civicflow.ParseIDNumber(s, time.Now())
		return r
	case "mobile":
		return "must be an 11-digit mobile number starting with 1"
	case "personname":
		return civicflow.NameReason(s)
	case "date":
		return "must be a date as YYYY-MM-DD"
	case "oneof":
		return "must be one of: " + strings.ReplaceAll(fe.Param(), " ", ", ")
	case "max":
		if fe.Kind() == reflect.String {
			return "must be at most " + fe.Param() + " characters"
		}
		if fe.Kind() == reflect.Slice {
			return "must have at most " + fe.Param() + " items"
		}
		return "must be at most " + fe.Param()
	case "min":
		if fe.Kind() == reflect.Slice {
			return "must have at least " + fe.Param() + " items"
		}
		if fe.Kind() == reflect.String {
			return "must be at least " + fe.Param() + " characters"
		}
		return "must be at least " + fe.Param()
	case "len":
		return "must be exactly " + fe.Param() + " characters"
	case "numeric":
		return "must contain digits only"
	case "alphanum":
		return "must contain only letters and digits"
	case "email":
		return "must be an e-mail address"
	case "gt":
		return "must be greater than " + fe.Param()
	}
	return "is invalid (" + fe.Tag() + ")"
}

// maxJSONBody bounds JSON request bodies.
const maxJSONBody = 1 << 20

// bind decodes a JSON body strictly into dst and validates it: wrong content
// type 415, malformed JSON 400, oversized 413, unknown fields and wrong
// types 422 naming the field.
func (s *Server) bind(c echo.Context, dst any) error {
	req := c.Request()
	mt, _, err := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
	if err != nil || mt != echo.MIMEApplicationJSON {
		return echo.NewHTTPError(http.StatusUnsupportedMediaType, "send the body as application/json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), req.Body, maxJSONBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return echo.NewHTTPError(http.StatusRequestEntityTooLarge)
		}
		return echo.NewHTTPError(http.StatusBadRequest, "could not read the request body")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return echo.NewHTTPError(http.StatusBadRequest, "the request body is empty; send a JSON object")
	}
	if !utf8.Valid(body) {
		return echo.NewHTTPError(http.StatusBadRequest, "the request body is not valid UTF-8")
	}
	// PostgreSQL text cannot hold NUL: refuse it here, as invalid input,
	// rather than let a workflow fail to record it later.
	if bytes.Contains(body, []byte(`\u0000`)) {
		return civicflow.Invalid(civicflow.FieldError{Field: "body", Reason: "text must not contain NUL characters (\\u0000)"})
	}
	if err := checkStructure(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if dec.More() {
		return echo.NewHTTPError(http.StatusBadRequest, "malformed JSON: data after the end of the object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return echo.NewHTTPError(http.StatusBadRequest, "malformed JSON: data after the end of the object")
	}
	return s.validate(dst)
}

// maxJSONDepth bounds how deeply objects and arrays may nest in a request
// body; no request type nests more than a few levels.
const maxJSONDepth = 16

// checkStructure refuses what encoding/json would silently accept or
// struggle with: a key given twice in one object (encoding/json keeps the
// last one, so two parties could read the same body differently) and
// nesting deeper than maxJSONDepth. Syntax errors are left to the decoder,
// which reports them with their position.
func checkStructure(body []byte) error {
	type frame struct {
		object    bool
		keys      map[string]bool
		expectKey bool
		key       string // current key (object) or index (array)
		index     int
		path      string
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var stack []*frame
	childPath := func() string {
		if len(stack) == 0 {
			return ""
		}
		top := stack[len(stack)-1]
		name := top.key
		if !top.object {
			name = "[" + strconv.Itoa(top.index) + "]"
		}
		switch {
		case top.path == "":
			return strings.TrimPrefix(name, ".")
		case top.object:
			return top.path + "." + name
		}
		return top.path + name
	}
	valueDone := func() {
		if len(stack) == 0 {
			return
		}
		if top := stack[len(stack)-1]; top.object {
			top.expectKey = true
		} else {
			top.index++
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil //nolint:nilerr // io.EOF, or a syntax error the decoder reports
		}
		if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].expectKey {
			top := stack[n-1]
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:n-1]
				valueDone()
				continue
			}
			key, _ := tok.(string)
			if top.keys[key] {
				top.key = key
				return echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("malformed JSON: duplicate key %q", childPath()))
			}
			top.keys[key], top.key, top.expectKey = true, key, false
			continue
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if len(stack) >= maxJSONDepth {
				return echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("malformed JSON: nested more than %d levels deep", maxJSONDepth))
			}
			object := tok == json.Delim('{')
			stack = append(stack, &frame{object: object, keys: map[string]bool{}, expectKey: object, path: childPath()})
		case json.Delim(']'):
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			valueDone()
		default:
			valueDone()
		}
	}
}

func decodeError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("malformed JSON at byte %d: %s", se.Offset, se.Error()))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return echo.NewHTTPError(http.StatusBadRequest, "malformed JSON: the body ends too early")
	case errors.As(err, &te):
		field := withoutGoNames(te.Field)
		if field == "" {
			return echo.NewHTTPError(http.StatusBadRequest, "malformed JSON: expected an object")
		}
		return civicflow.Invalid(civicflow.FieldError{Field: field, Reason: "must be " + jsonKind(te.Type)})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		quoted := strings.TrimPrefix(err.Error(), "json: unknown field ")
		name, uerr := strconv.Unquote(quoted)
		if uerr != nil {
			name = quoted
		}
		if name == "" {
			name = `""` // the empty key: still name it, so the client sees which
		}
		return civicflow.Invalid(civicflow.FieldError{Field: name, Reason: "is not a known field"})
	}
	return echo.NewHTTPError(http.StatusBadRequest, "malformed JSON: "+err.Error())
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number in range"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map, reflect.Pointer:
		return "an object"
	}
	return "of type " + t.String()
}
