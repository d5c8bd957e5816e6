-- The keyed audit chains (issue 13 item 5, issue 14): one chain per writing node, each record
-- MAC'd with HMAC-SHA-256 under a key kept outside the database, positions assigned by the node's
-- writer in the transaction of the change recorded, so no head row is shared by every request.
-- Additive: the older unkeyed chain (audit_log, audit_head) stays as it was and is still verified;
-- an older node keeps writing there during a rolling upgrade.
CREATE TABLE audit_record (
    chain BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    user_name TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    remote TEXT NOT NULL,
    status BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL,
    request_id TEXT,
    key_id TEXT NOT NULL,
    mac TEXT NOT NULL,
    PRIMARY KEY (chain, seq)
);
CREATE TRIGGER audit_record_append_only_update BEFORE UPDATE ON audit_record
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_record_append_only_delete BEFORE DELETE ON audit_record
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
