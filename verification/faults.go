package verification

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// FaultsPath is the stand-in's control endpoint for injected failures:
// PUT a Fault as JSON to start one, DELETE to end it, GET to read it. Only
// the development stand-in has it; the real platform and Client know
// nothing of it.
const FaultsPath = "/_dev/faults"

// Fault modes.
const (
	// FaultError answers every check with 503, as a platform under
	// maintenance does.
	FaultError = "error"
	// FaultTimeout holds every check without answering until the caller
	// gives up (or Hold passes, then answers 504), as an overloaded platform
	// does.
	FaultTimeout = "timeout"
)

// Fault is a failure the stand-in injects into household checks for a
// while.
type Fault struct {
	Mode string `json:"mode"`
	// Seconds is how long the fault lasts from when it is set; 0 = until
	// cleared.
	Seconds float64 `json:"seconds"`
	// HoldSeconds bounds how long FaultTimeout holds a request; default 60.
	HoldSeconds float64 `json:"hold_seconds,omitempty"`
	// Until is when the fault ends (set by the stand-in; zero = until cleared).
	Until time.Time `json:"until,omitzero"`
	// Injected counts the checks that failed because of faults so far.
	Injected int64 `json:"injected"`
}

type faultState struct {
	mu       sync.Mutex
	fault    Fault
	injected int64
}

// SetFault starts f (replacing any current fault); a zero Mode clears it.
func (s *DevServer) SetFault(f Fault) error {
	switch f.Mode {
	case "", FaultError, FaultTimeout:
	default:
		return fmt.Errorf("unknown fault mode %q: want %q or %q", f.Mode, FaultError, FaultTimeout)
	}
	if f.Seconds < 0 || f.HoldSeconds < 0 {
		return fmt.Errorf("fault durations must not be negative")
	}
	f.Until = time.Time{}
	if f.Mode != "" && f.Seconds > 0 {
		f.Until = time.Now().Add(time.Duration(f.Seconds * float64(time.Second)))
	}
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.fault = f
	return nil
}

// CurrentFault returns the fault in force (Mode "" for none) and the
// number of checks failed by faults so far.
func (s *DevServer) CurrentFault() Fault {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	f := s.faults.fault
	if f.Mode != "" && !f.Until.IsZero() && time.Now().After(f.Until) {
		f = Fault{}
	}
	f.Injected = s.faults.injected
	return f
}

// injectFault fails the request if a fault is in force and reports whether
// it did.
func (s *DevServer) injectFault(w http.ResponseWriter, r *http.Request) bool {
	f := s.CurrentFault()
	if f.Mode == "" {
		return false
	}
	s.faults.mu.Lock()
	s.faults.injected++
	s.faults.mu.Unlock()
	switch f.Mode {
	case FaultError:
		http.Error(w, "injected fault: the platform is unavailable", http.StatusServiceUnavailable)
	case FaultTimeout:
		// Read the body first: only then does net/http notice a caller
		// that hangs up, and cancel r.Context().
		_, _ = io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, 4096))
		hold := 60 * time.Second
		if f.HoldSeconds > 0 {
			hold = time.Duration(f.HoldSeconds * float64(time.Second))
		}
		t := time.NewTimer(hold)
		defer t.Stop()
		select {
		case <-r.Context().Done():
		case <-t.C:
			http.Error(w, "injected fault: the platform timed out", http.StatusGatewayTimeout)
		}
	}
	return true
}

func (s *DevServer) serveFaults(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
	case http.MethodPut:
		var f Fault
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&f); err != nil {
			http.Error(w, "malformed fault: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := s.SetFault(f); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	case http.MethodDelete:
		_ = s.SetFault(Fault{}) // clearing cannot fail
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(s.CurrentFault())
}
