-- Treasury's side of the journal: the settlement and bank files it was given, each facility-day's
-- latest reconciliation with its exceptions and their resolution, and the closed days.

-- Files as delivered (base64 of the exact bytes, so encodings such as Shift_JIS survive), once each
-- by content hash.
CREATE TABLE treasury_files (
    sha256 TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('card', 'emoney', 'qr', 'bank')),
    brand TEXT,
    name TEXT NOT NULL,
    content TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at TEXT NOT NULL
);

-- The latest reconciliation of a facility-day: the report (JSON) as the reconciler built it.
CREATE TABLE treasury_reconciliations (
    facility_id TEXT NOT NULL,
    business_date TEXT NOT NULL,
    as_of TEXT NOT NULL,
    report TEXT NOT NULL,
    exception_count BIGINT NOT NULL,
    run_at TEXT NOT NULL,
    run_by TEXT NOT NULL,
    PRIMARY KEY (facility_id, business_date)
);

-- Exceptions found, kept across runs by their key (kind and the records they name) so that a
-- resolution survives a re-run; one that a later run no longer finds is 'cleared'.
CREATE TABLE treasury_exceptions (
    id TEXT PRIMARY KEY,
    facility_id TEXT NOT NULL,
    business_date TEXT NOT NULL,
    exception_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    name_ja TEXT NOT NULL,
    records TEXT NOT NULL,
    amount_at_stake BIGINT NOT NULL,
    detail TEXT NOT NULL,
    suggested_action TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'resolved', 'cleared')),
    found_at TEXT NOT NULL,
    resolution_action TEXT,
    resolution_note TEXT,
    resolved_by TEXT,
    resolved_at TEXT,
    UNIQUE (facility_id, business_date, exception_key)
);
CREATE INDEX treasury_exceptions_day ON treasury_exceptions (business_date, facility_id, state);

-- A closed facility-day: immutable from then on.
CREATE TABLE treasury_closed_days (
    facility_id TEXT NOT NULL,
    business_date TEXT NOT NULL,
    closed_at TEXT NOT NULL,
    closed_by TEXT NOT NULL,
    report_sha256 TEXT NOT NULL,
    PRIMARY KEY (facility_id, business_date)
);
