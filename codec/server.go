package codec

import (
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// Errors an Authorize hook returns to refuse a request: ErrUnauthenticated
// answers 401, ErrForbidden 403; any other error answers 503 (the decision
// could not be made, e.g. the audit trail could not be written).
var (
	ErrUnauthenticated = errors.New("codec: log in and send the token as Authorization: Bearer <token>")
	ErrForbidden       = errors.New("codec: this account may not encode or decode Temporal payloads")
)

// maxBody bounds one request: the UI sends the payloads of one history
// page, well below this.
const maxBody = 16 << 20

// Operations of the remote codec protocol.
const (
	OpEncode = "encode"
	OpDecode = "decode"
)

// ServerOptions configure NewServer.
type ServerOptions struct {
	// Authorize decides each request once its payloads are read (op is
	// OpEncode or OpDecode, n the number of payloads) and records it; see
	// ErrUnauthenticated and ErrForbidden. Required.
	Authorize func(r *http.Request, op string, n int) error
	// Origins may call from a browser (the Temporal UI's origin): they get
	// CORS headers with credentials. Other origins are refused.
	Origins []string
}

// NewServer serves Temporal's remote codec protocol: POST .../encode and
// POST .../decode with a JSON body {"payloads": [...]} (protobuf JSON)
// answered in kind, whatever prefix it is mounted under. The Temporal UI
// ("Data Encoder" settings, or the server's codec endpoint) and `temporal
// --codec-endpoint` use it.
func NewServer(c *Codec, o ServerOptions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store") // decoded payloads are personal data
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if origin := r.Header.Get("Origin"); origin != "" {
			if !slices.Contains(o.Origins, origin) {
				http.Error(w, "origin not allowed", http.StatusForbidden)
				return
			}
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Add("Vary", "Origin")
			if r.Method == http.MethodOptions {
				h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
				h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Namespace")
				h.Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		var op string
		switch {
		case strings.HasSuffix(r.URL.Path, "/"+OpEncode):
			op = OpEncode
		case strings.HasSuffix(r.URL.Path, "/"+OpDecode):
			op = OpDecode
		default:
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "use POST", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			http.Error(w, "request body unreadable or too large", http.StatusRequestEntityTooLarge)
			return
		}
		var in commonpb.Payloads
		if err := protojson.Unmarshal(body, &in); err != nil {
			http.Error(w, "want {\"payloads\": [...]} in protobuf JSON", http.StatusBadRequest)
			return
		}
		if err := o.Authorize(r, op, len(in.GetPayloads())); err != nil {
			switch {
			case errors.Is(err, ErrUnauthenticated):
				w.Header().Set("WWW-Authenticate", `Bearer realm="civicflow"`)
				http.Error(w, ErrUnauthenticated.Error(), http.StatusUnauthorized)
			case errors.Is(err, ErrForbidden):
				http.Error(w, ErrForbidden.Error(), http.StatusForbidden)
			default:
				http.Error(w, "codec: the request could not be recorded; try again", http.StatusServiceUnavailable)
			}
			return
		}
		var out []*commonpb.Payload
		if op == OpEncode {
			out, err = c.Encode(in.GetPayloads())
		} else {
			out, err = c.Decode(in.GetPayloads())
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		b, err := protojson.Marshal(&commonpb.Payloads{Payloads: out})
		if err != nil {
			http.Error(w, "codec: encode answer", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	})
}
