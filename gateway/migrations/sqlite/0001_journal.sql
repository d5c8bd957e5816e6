-- The journal: append-only events plus the current state of shifts, sales and payments.
-- Amounts are whole yen (INTEGER); instants are RFC 3339 UTC text with milliseconds.

CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    facility_id TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX events_entity ON events (entity_id);
CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;

CREATE TABLE shifts (
    id TEXT PRIMARY KEY,
    facility_id TEXT NOT NULL,
    register_id TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'closed')),
    business_date TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    opened_by TEXT NOT NULL,
    opening_float INTEGER NOT NULL CHECK (opening_float >= 0),
    closed_at TEXT,
    closed_by TEXT,
    cash_sales INTEGER,
    cash_expected INTEGER,
    cash_counted INTEGER,
    over_short INTEGER,
    count_json TEXT
);
CREATE UNIQUE INDEX shifts_one_open_per_register ON shifts (register_id) WHERE state = 'open';
CREATE INDEX shifts_facility_date ON shifts (facility_id, business_date);

CREATE TABLE sales (
    id TEXT PRIMARY KEY,
    facility_id TEXT NOT NULL,
    register_id TEXT NOT NULL,
    shift_id TEXT NOT NULL REFERENCES shifts (id),
    state TEXT NOT NULL CHECK (state IN ('open', 'paid', 'voided', 'cancelled')),
    business_date TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    amount_total INTEGER NOT NULL CHECK (amount_total > 0),
    amount_paid INTEGER NOT NULL CHECK (amount_paid >= 0 AND amount_paid <= amount_total),
    receipt_fiscal_year INTEGER,
    receipt_number INTEGER,
    paid_at TEXT,
    voided_at TEXT,
    voided_by TEXT,
    void_reason TEXT,
    UNIQUE (register_id, receipt_fiscal_year, receipt_number)
);
CREATE INDEX sales_shift ON sales (shift_id);
CREATE INDEX sales_facility_date ON sales (facility_id, business_date);

CREATE TABLE sale_lines (
    sale_id TEXT NOT NULL REFERENCES sales (id),
    line_no INTEGER NOT NULL,
    fee_item TEXT NOT NULL,
    name_ja TEXT NOT NULL,
    unit_price INTEGER NOT NULL CHECK (unit_price > 0),
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    amount INTEGER NOT NULL,
    revenue_account TEXT NOT NULL,
    PRIMARY KEY (sale_id, line_no)
);

CREATE TABLE payments (
    id TEXT PRIMARY KEY,
    sale_id TEXT NOT NULL REFERENCES sales (id),
    facility_id TEXT NOT NULL,
    register_id TEXT NOT NULL,
    shift_id TEXT NOT NULL REFERENCES shifts (id),
    method TEXT NOT NULL,
    brand TEXT,
    amount INTEGER NOT NULL CHECK (amount > 0),
    tendered INTEGER,
    change_due INTEGER,
    state TEXT NOT NULL,
    business_date TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX payments_sale ON payments (sale_id);
CREATE INDEX payments_shift ON payments (shift_id);

CREATE TABLE receipt_counters (
    register_id TEXT NOT NULL,
    fiscal_year INTEGER NOT NULL,
    last_number INTEGER NOT NULL,
    PRIMARY KEY (register_id, fiscal_year)
);

CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status INTEGER NOT NULL,
    response TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (scope, key)
);

CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    user_name TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    remote TEXT NOT NULL,
    status INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TRIGGER audit_append_only_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_append_only_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
