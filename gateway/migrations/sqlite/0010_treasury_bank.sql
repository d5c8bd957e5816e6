-- Treasury's reconciliation as treasury reads it (issue 21): each exception's text in English
-- beside the Japanese, the city's list, and the bank statement of each day's latest run.
--
-- The city's list (payouts, bank lines no facility-day carries) is kept in treasury_exceptions
-- with an empty facility_id, one row per run date and exception; a resolution of one row
-- resolves every open row of the same exception_key (the same bank line or payout found by the
-- runs of several dates).
ALTER TABLE treasury_exceptions ADD COLUMN name_en TEXT NOT NULL DEFAULT '';
ALTER TABLE treasury_exceptions ADD COLUMN records_en TEXT NOT NULL DEFAULT '[]';
ALTER TABLE treasury_exceptions ADD COLUMN detail_en TEXT NOT NULL DEFAULT '';
ALTER TABLE treasury_exceptions ADD COLUMN suggested_action_en TEXT NOT NULL DEFAULT '';
CREATE INDEX treasury_exceptions_key ON treasury_exceptions (exception_key, state);

-- The bank statement as the latest run of a business date read it: every line with what it
-- is, every payout with its credit, the city's list (JSON, as the reconciler built it).
CREATE TABLE treasury_bank_runs (
    business_date TEXT PRIMARY KEY,
    as_of TEXT NOT NULL,
    report TEXT NOT NULL,
    run_at TEXT NOT NULL,
    run_by TEXT NOT NULL
);
