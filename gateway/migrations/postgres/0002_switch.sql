-- The payment switch: card and e-money payments bound to terminals, authorized at acquirers,
-- reversed when their outcome is in doubt, refunded under the brands' rules.

ALTER TABLE payments ADD COLUMN terminal_id TEXT;
ALTER TABLE payments ADD COLUMN masked_card TEXT;
ALTER TABLE payments ADD COLUMN acquirer_id TEXT;
ALTER TABLE payments ADD COLUMN acquirer_stan TEXT;
ALTER TABLE payments ADD COLUMN terminal_stan TEXT;
ALTER TABLE payments ADD COLUMN transmitted_at TEXT;
ALTER TABLE payments ADD COLUMN rrn TEXT;
ALTER TABLE payments ADD COLUMN auth_code TEXT;
ALTER TABLE payments ADD COLUMN response_code TEXT;
ALTER TABLE payments ADD COLUMN note TEXT;
ALTER TABLE payments ADD COLUMN refunded BIGINT NOT NULL DEFAULT 0;

-- One payment at a time per terminal: the terminal host binds an authorization to it.
CREATE UNIQUE INDEX payments_one_pending_per_terminal ON payments (terminal_id) WHERE state IN ('awaiting_device', 'authorizing');
CREATE INDEX payments_state ON payments (state);

CREATE TABLE stan_counters (
    acquirer_id TEXT PRIMARY KEY,
    last_stan BIGINT NOT NULL
);

CREATE TABLE refunds (
    id TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL REFERENCES payments (id),
    facility_id TEXT NOT NULL,
    amount BIGINT NOT NULL CHECK (amount > 0),
    method TEXT NOT NULL CHECK (method IN ('original', 'cash')),
    state TEXT NOT NULL CHECK (state IN ('authorizing', 'approved', 'declined', 'in_doubt', 'reversed', 'recorded')),
    acquirer_id TEXT,
    acquirer_stan TEXT,
    transmitted_at TEXT,
    rrn TEXT,
    response_code TEXT,
    reason TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX refunds_payment ON refunds (payment_id);

-- Reversal work, journaled before the first 0400 is sent so a crash resumes it.
CREATE TABLE reversals (
    id TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL REFERENCES payments (id),
    refund_id TEXT REFERENCES refunds (id),
    acquirer_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    original TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'done', 'gave_up')),
    tries BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    response_code TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX reversals_due ON reversals (state, next_attempt_at);
CREATE UNIQUE INDEX reversals_one_open_per_target ON reversals (payment_id, COALESCE(refund_id, '')) WHERE state = 'pending';
