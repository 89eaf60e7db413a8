package postgres

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Waiting for a case to change, without polling: every recorded step
// notifies CaseChangedChannel with the case's ID (pg_notify, delivered when
// its transaction commits). One connection per store LISTENs and wakes the
// requests waiting on that case. A notification can be missed while that
// connection reconnects, so a waiter also looks at the case every
// changeRecheck; nothing depends on notifications arriving.

// CaseChangedChannel is the NOTIFY channel of recorded steps; the payload
// is the case ID.
const CaseChangedChannel = "civicflow_case_changed"

// changeRecheck is how often a waiter reads the case even without a
// notification.
const changeRecheck = 2 * time.Second

// notifyCaseChanged tells waiters, once tx commits, that the case changed.
func notifyCaseChanged(ctx context.Context, tx pgx.Tx, caseID int64) error {
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, CaseChangedChannel, strconv.FormatInt(caseID, 10)); err != nil {
		return mapError("notify case change", err)
	}
	return nil
}

// caseWatch holds the waiters of one store and its listening connection,
// started with the first waiter and stopped by Close.
type caseWatch struct {
	mu      sync.Mutex
	waiters map[int64]map[chan struct{}]struct{}
	started bool
	stop    context.CancelFunc
	done    chan struct{}
}

func (w *caseWatch) add(caseID int64) chan struct{} {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.waiters == nil {
		w.waiters = map[int64]map[chan struct{}]struct{}{}
	}
	if w.waiters[caseID] == nil {
		w.waiters[caseID] = map[chan struct{}]struct{}{}
	}
	w.waiters[caseID][ch] = struct{}{}
	return ch
}

func (w *caseWatch) remove(caseID int64, ch chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.waiters[caseID], ch)
	if len(w.waiters[caseID]) == 0 {
		delete(w.waiters, caseID)
	}
}

func (w *caseWatch) fire(caseID int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for ch := range w.waiters[caseID] {
		select {
		case ch <- struct{}{}:
		default: // already woken
		}
	}
}

// ensureListening starts the listener once.
func (w *caseWatch) ensureListening(cfg *pgx.ConnConfig) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started {
		return
	}
	w.started = true
	ctx, cancel := context.WithCancel(context.Background())
	w.stop, w.done = cancel, make(chan struct{})
	go w.listen(ctx, cfg)
}

// listen keeps a connection LISTENing until ctx ends, reconnecting after a
// second when it breaks.
func (w *caseWatch) listen(ctx context.Context, cfg *pgx.ConnConfig) {
	defer close(w.done)
	for ctx.Err() == nil {
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err == nil {
			if _, err = conn.Exec(ctx, "LISTEN "+CaseChangedChannel); err == nil {
				for {
					n, err := conn.WaitForNotification(ctx)
					if err != nil {
						break
					}
					if id, err := strconv.ParseInt(n.Payload, 10, 64); err == nil {
						w.fire(id)
					}
				}
			}
			conn.Close(context.Background())
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// close stops the listener, if it runs, and waits for it.
func (w *caseWatch) close() {
	w.mu.Lock()
	stop, done := w.stop, w.done
	w.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}

// CaseVersion is the case's step counter (its version).
func (db *DB) CaseVersion(ctx context.Context, caseID int64) (int, error) {
	var seq int
	if err := db.pool.QueryRow(ctx, `SELECT seq FROM cases WHERE id = $1`, caseID).Scan(&seq); err != nil {
		return 0, mapError(fmt.Sprintf("case %d", caseID), err)
	}
	return seq, nil
}

// WaitCaseChange waits until the case's version is above after, for at
// most wait, and answers the version it then has. Reaching wait is not an
// error: the caller sees the version unchanged.
func (db *DB) WaitCaseChange(ctx context.Context, caseID int64, after int, wait time.Duration) (int, error) {
	ch := db.watch.add(caseID)
	defer db.watch.remove(caseID, ch)
	db.watch.ensureListening(db.pool.Config().ConnConfig)
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	recheck := time.NewTicker(changeRecheck)
	defer recheck.Stop()
	for {
		seq, err := db.CaseVersion(ctx, caseID)
		if err != nil || seq > after {
			return seq, err
		}
		select {
		case <-ch:
		case <-recheck.C:
		case <-deadline.C:
			return seq, nil
		case <-ctx.Done():
			return seq, ctx.Err()
		}
	}
}
