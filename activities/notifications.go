package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"

	"civicflow"
	"civicflow/notify"
)

// ErrNotificationTemporary is the Temporal error type of a send that may
// work later (server down, 4xx); the workflow retries it with back-off.
const ErrNotificationTemporary = "notification_temporary"

// Notifier holds what SendNotification needs beyond the store.
type Notifier struct {
	// Senders by channel. Only e-mail exists; SMS is a documented seam.
	Senders   map[civicflow.Channel]notify.Sender
	Templates *notify.Templates
	From      string // the sender address, also the Message-ID domain
	// Lease is how long one attempt holds a row; it must be longer than the
	// activity's start-to-close timeout (default 3 minutes).
	Lease time.Duration
	// AfterHandOver, when set, runs after the server accepted a message and
	// before the outcome is recorded. Tests use it to kill a worker there.
	AfterHandOver func()
	// Now is the clock for the Date header (default time.Now).
	Now func() time.Time
}

// SendInput is the input of SendNotification.
type SendInput struct {
	NotificationID int64
}

// SendNotification sends one outbox row and moves it through its states:
// pending -> sending -> sent | failed | unconfirmed, or back to pending
// after a temporary failure (returned as a retryable error, so that
// Temporal retries with back-off). A row already final is left alone, and a
// row an earlier attempt handed over is never sent again, so a retried
// activity or a restarted worker does not send twice. It returns the state
// the row ends in.
func (a *Activities) SendNotification(ctx context.Context, in SendInput) (civicflow.NotificationState, error) {
	n := a.Notifier
	if n == nil {
		return "", temporal.NewApplicationError("this worker has no mail configured", ErrNotificationTemporary)
	}
	outcome, o, err := a.Store.ClaimNotification(ctx, in.NotificationID, n.Lease, notify.DomainOf(n.From))
	if err != nil {
		return "", retryable(err)
	}
	switch outcome {
	case civicflow.ClaimBusy:
		return "", temporal.NewApplicationError(fmt.Sprintf("notification %d is held by another attempt", in.NotificationID), ErrNotificationTemporary)
	case civicflow.ClaimInDoubt:
		return civicflow.NotificationUnconfirmed, nil
	case civicflow.ClaimFinished:
		cur, err := a.Store.Notification(ctx, in.NotificationID)
		if err != nil {
			return "", retryable(err)
		}
		return cur.State, nil
	}
	fail := func(reason string) (civicflow.NotificationState, error) {
		if err := a.Store.FailNotification(ctx, o.ID, o.Token, reason); err != nil {
			return "", err
		}
		return civicflow.NotificationFailed, nil
	}
	sender := n.Senders[o.Channel]
	if sender == nil {
		return fail(fmt.Sprintf("no sender for channel %s is configured", o.Channel))
	}
	to, err := a.Store.NotificationAddress(ctx, &o.Notification)
	if err != nil {
		if rerr := a.Store.ReleaseNotification(ctx, o.ID, o.Token, "look up address: "+err.Error()); rerr != nil {
			return "", rerr
		}
		return "", fmt.Errorf("address of notification %d: %w", o.ID, err)
	}
	if to == "" {
		return fail("the recipient has no e-mail address any more")
	}
	content, err := n.Templates.Render(o.Template, o.Locale, o.Data)
	if err != nil {
		return fail(err.Error())
	}
	now := time.Now
	if n.Now != nil {
		now = n.Now
	}
	msg := notify.Message{From: n.From, To: to, Subject: content.Subject, Text: content.Text, HTML: content.HTML,
		MessageID: o.MessageID, Date: now(), Headers: map[string]string{
			"X-Civicflow-Case": o.CaseReference, "X-Civicflow-Template": string(o.Template),
			"X-Civicflow-Notification": fmt.Sprint(o.ID),
		}}
	reply, err := sender.Send(ctx, msg, func(ctx context.Context) error {
		return a.Store.CommitNotification(ctx, o.ID, o.Token, n.Lease)
	})
	if err == nil {
		if n.AfterHandOver != nil {
			n.AfterHandOver()
		}
		// A database hiccup here must not turn a delivered message into an
		// unconfirmed one: try a few times before giving up. If it still
		// fails, the row stays 'sending' with the hand-over recorded, and a
		// retry finds it in doubt and does not send again.
		var err error
		for i := 0; i < 5; i++ {
			if err = a.Store.MarkNotificationSent(ctx, o.ID, o.Token, reply); err == nil {
				return civicflow.NotificationSent, nil
			}
			select {
			case <-ctx.Done():
				return "", err
			case <-time.After(time.Second):
			}
		}
		return "", err
	}
	var se *notify.Error
	if !errors.As(err, &se) {
		se = &notify.Error{Err: err}
	}
	switch {
	case se.InDoubt:
		if err := a.Store.UnconfirmNotification(ctx, o.ID, o.Token, se.Error()); err != nil {
			return "", err
		}
		return civicflow.NotificationUnconfirmed, nil
	case se.Permanent:
		return fail(se.Error())
	}
	if err := a.Store.ReleaseNotification(ctx, o.ID, o.Token, se.Error()); err != nil {
		return "", err
	}
	return "", temporal.NewApplicationError(se.Error(), ErrNotificationTemporary)
}

// GiveUpInput is the input of GiveUpNotification.
type GiveUpInput struct {
	NotificationID int64
	Reason         string
}

// GiveUpNotification ends a notification whose retries ran out (failed, or
// unconfirmed when it may have been handed over) so that supervisors see it.
func (a *Activities) GiveUpNotification(ctx context.Context, in GiveUpInput) (civicflow.NotificationState, error) {
	st, err := a.Store.GiveUpNotification(ctx, in.NotificationID, in.Reason)
	return st, retryable(err)
}
