-- Each audit record names the request it records (the X-Request-Id the caller sent, or the one the
-- gateway made), so a log line, an answer and an audit record can be matched. Additive: records
-- written before keep no id, and an older gateway that does not write the column still works.
ALTER TABLE audit_log ADD COLUMN request_id TEXT;
