-- Treasury's reconciliation runs in the background (issue 15, item 2): a run of a business day
-- answers at once with its id and works on; its progress, its end and its error are kept here.
-- One run per business date at a time (a second request joins the running one); a gateway that
-- starts finds any run still 'running' (its process died with it) and marks it failed, so that
-- nothing is lost silently and the day can be run again. (The SQLite twin is the same text.)
CREATE TABLE treasury_runs (
    id TEXT PRIMARY KEY,
    business_date TEXT NOT NULL,
    as_of TEXT NOT NULL,
    facility_id TEXT,
    state TEXT NOT NULL CHECK (state IN ('running', 'succeeded', 'failed')),
    facility_days_total BIGINT NOT NULL DEFAULT 0,
    facility_days_done BIGINT NOT NULL DEFAULT 0,
    files_read BIGINT NOT NULL DEFAULT 0,
    exceptions_found BIGINT NOT NULL DEFAULT 0,
    result TEXT,
    error TEXT,
    started_by TEXT NOT NULL,
    started_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    ended_at TEXT
);
CREATE UNIQUE INDEX treasury_runs_one_running ON treasury_runs (business_date) WHERE state = 'running';
CREATE INDEX treasury_runs_date ON treasury_runs (business_date, started_at);
