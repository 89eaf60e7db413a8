package api

import (
	"context"
	"fmt"
	"sync"
	"time"

	"civicflow"
)

// calendarRecheck is how long /readyz answers the city's calendar gaps
// from the last look: load balancers probe every few seconds, the gaps
// change when a stage starts or the calendar does. A calendar change
// through this instance is seen at once (forget).
const calendarRecheck = time.Minute

// calendarWatch keeps the city's calendar gaps for /readyz and logs them
// when they change. Concurrent probes share one query.
type calendarWatch struct {
	mu     sync.Mutex
	at     time.Time // of the last look; zero: look again
	gaps   []civicflow.CalendarGap
	logged string // fmt.Sprint of the gaps last logged
}

// forget makes the next look ask the database.
func (w *calendarWatch) forget() {
	w.mu.Lock()
	w.at = time.Time{}
	w.mu.Unlock()
}

// CheckCalendar logs the years open deadlines run into without a loaded
// calendar (at start-up; /readyz logs again whenever they change).
func (s *Server) CheckCalendar(ctx context.Context) {
	if _, err := s.calendarGaps(ctx); err != nil {
		s.log.Warn("calendar check failed", "err", err)
	}
}

// calendarGaps answers the city's calendar gaps, looking again when the
// last look is older than calendarRecheck, and logs them when they differ
// from what was logged last: a warning for each year missing, and a note
// when none is missing any more.
func (s *Server) calendarGaps(ctx context.Context) ([]civicflow.CalendarGap, error) {
	w := &s.calendar
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	if !w.at.IsZero() && now.Sub(w.at) < calendarRecheck {
		return w.gaps, nil
	}
	gaps, err := s.store.CalendarGaps(ctx, now, "")
	if err != nil {
		return nil, err
	}
	w.at, w.gaps = now, gaps
	if sig := fmt.Sprint(gaps); sig != w.logged {
		for _, g := range gaps {
			s.log.Warn("no holiday calendar loaded for a year open deadlines run into: their due dates are counted on the usual week; load the State Council's notice (docs/deadlines.md)",
				"year", g.Year, "open_deadlines", g.OpenDeadlines)
		}
		if len(gaps) == 0 && w.logged != "" {
			s.log.Info("holiday calendar loaded for every year open deadlines run into")
		}
		w.logged = sig
	}
	return gaps, nil
}
