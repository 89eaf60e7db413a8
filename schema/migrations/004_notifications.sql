-- Notifications outbox (issue 6). Every notification is a row, written in
-- the same transaction as the case step that causes it, so that it exists
-- exactly when the step was recorded. Sending moves the row through its
-- states; see docs/notifications.md.

-- Officials' addresses for "a case waits for you" mail, and the language
-- they read it in. Applicants' addresses stay on the case (applicant_email).
ALTER TABLE users
    ADD COLUMN email  text CHECK (email IS NULL OR email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
    ADD COLUMN locale text NOT NULL DEFAULT 'zh' CHECK (locale IN ('zh', 'en'));

CREATE TABLE notifications (
    id             bigserial PRIMARY KEY,
    case_id        bigint NOT NULL REFERENCES cases (id),
    -- The case_events key of the step that caused the notification.
    event_key      text NOT NULL CHECK (event_key <> ''),
    template       text NOT NULL CHECK (template ~ '^[a-z_]+$'),
    recipient_kind text NOT NULL CHECK (recipient_kind IN ('applicant', 'official', 'supervisor')),
    user_id        bigint REFERENCES users (id),
    -- No address is copied here: it is looked up when sending (the
    -- applicant's is sealed on the case, issue 3), so the outbox holds no
    -- second copy of personal data.
    channel        text NOT NULL CHECK (channel IN ('email', 'sms', 'none')),
    locale         text NOT NULL DEFAULT 'zh' CHECK (locale IN ('zh', 'en')),
    -- What the template needs, captured when the step was recorded. It
    -- holds nothing the recipient may not see (no ID numbers, no incomes).
    data           jsonb NOT NULL,
    -- Copied from the case so that supervisors' lists are scoped without a join.
    district_code  text NOT NULL,
    township_code  text NOT NULL,
    state          text NOT NULL DEFAULT 'pending'
                   CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'unconfirmed', 'no_channel')),
    attempts       int NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error     text NOT NULL DEFAULT '',
    -- Fixed on the first attempt and never changed: every retry carries it.
    message_id     text UNIQUE,
    -- The attempt holding the row while it is 'sending', and until when.
    claim          uuid,
    lease_until    timestamptz,
    -- Set (by the holder of the claim) just before the message is handed
    -- over for good (before the final "." of SMTP DATA). From then on no
    -- attempt sends the notification again.
    committed_at   timestamptz,
    -- Raised by a supervisor's retry; part of the sending workflow's ID.
    generation     int NOT NULL DEFAULT 1 CHECK (generation > 0),
    -- When a dispatcher started the sending workflow of this generation.
    dispatched_at  timestamptz,
    smtp_reply     text NOT NULL DEFAULT '',
    sent_at        timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((recipient_kind = 'applicant') = (user_id IS NULL)),
    CHECK ((channel = 'none') = (state = 'no_channel')),
    CHECK (state <> 'sending' OR (claim IS NOT NULL AND lease_until IS NOT NULL)),
    CHECK (state <> 'sent' OR (sent_at IS NOT NULL AND message_id IS NOT NULL)),
    CHECK (committed_at IS NULL OR message_id IS NOT NULL)
);

-- Enqueueing is idempotent: one notification per step, template and recipient.
CREATE UNIQUE INDEX notifications_once ON notifications (case_id, event_key, template, recipient_kind, coalesce(user_id, 0));
-- The dispatcher's queue and the supervisors' list.
CREATE INDEX notifications_to_dispatch ON notifications (id) WHERE state = 'pending' AND dispatched_at IS NULL;
CREATE INDEX notifications_by_state ON notifications (state, district_code, id);
