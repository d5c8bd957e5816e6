-- The money path (issue: terminal identity, reversal outcomes, one lifecycle): one open
-- money-returning operation per payment, refund approvals that share no token, exceptions the
-- switch raises for treasury, the approver in the audit record, and closed days the database
-- itself keeps closed. (The SQLite twin says the same in SQLite's dialect.)

ALTER TABLE payments ADD COLUMN money_return TEXT;
-- The terminal's own field 7 (its reversal names it in field 90) and when the payment completed
-- (a terminal may reverse only what it just had answered).
ALTER TABLE payments ADD COLUMN terminal_transmitted_at TEXT;
ALTER TABLE payments ADD COLUMN completed_at TEXT;

ALTER TABLE refunds ADD COLUMN business_date TEXT;
ALTER TABLE refunds ADD COLUMN approved_by TEXT;
CREATE INDEX refunds_facility_created ON refunds (facility_id, created_at);

ALTER TABLE reversals ADD COLUMN last_answer TEXT;

CREATE TABLE refund_approvals (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('request', 'code')),
    payment_id TEXT NOT NULL REFERENCES payments (id),
    facility_id TEXT NOT NULL,
    register_id TEXT NOT NULL,
    amount BIGINT NOT NULL CHECK (amount > 0),
    reason TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'expired', 'used', 'locked')),
    code_sha256 TEXT,
    tries BIGINT NOT NULL DEFAULT 0,
    requested_by TEXT,
    approver TEXT,
    decided_at TEXT,
    decision_note TEXT,
    refund_id TEXT REFERENCES refunds (id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX refund_approvals_payment ON refund_approvals (payment_id, state);
CREATE INDEX refund_approvals_facility ON refund_approvals (facility_id, state, created_at);

ALTER TABLE treasury_exceptions ADD COLUMN source TEXT NOT NULL DEFAULT 'reconciliation';

ALTER TABLE audit_log ADD COLUMN detail TEXT NOT NULL DEFAULT '';

CREATE FUNCTION day_is_closed(facility TEXT, day TEXT) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM treasury_closed_days c WHERE c.facility_id = facility AND c.business_date = day)
$$;

CREATE FUNCTION refuse_closed_day_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    facility TEXT;
    day TEXT;
    row_of RECORD;
BEGIN
    IF TG_OP = 'DELETE' THEN row_of := OLD; ELSE row_of := NEW; END IF;
    IF TG_TABLE_NAME = 'reversals' THEN
        SELECT p.facility_id, p.business_date INTO facility, day FROM payments p WHERE p.id = row_of.payment_id;
    ELSIF TG_OP = 'INSERT' THEN
        facility := NEW.facility_id; day := NEW.business_date;
    ELSE
        facility := OLD.facility_id; day := OLD.business_date;
    END IF;
    IF NOT day_is_closed(facility, day) THEN
        IF TG_OP = 'DELETE' THEN RETURN OLD; ELSE RETURN NEW; END IF;
    END IF;
    -- A closed day's payment still takes its running refunded total: a refund made later is
    -- booked on the later day (its own row) and only points back at the payment.
    -- (Nested, so that the columns of payments are only read on payments.)
    IF TG_TABLE_NAME = 'payments' AND TG_OP = 'UPDATE' THEN
        IF NEW.id = OLD.id AND NEW.sale_id = OLD.sale_id AND NEW.facility_id = OLD.facility_id
            AND NEW.business_date = OLD.business_date AND NEW.method = OLD.method AND NEW.amount = OLD.amount
            AND NEW.brand IS NOT DISTINCT FROM OLD.brand AND NEW.rrn IS NOT DISTINCT FROM OLD.rrn
            AND NEW.response_code IS NOT DISTINCT FROM OLD.response_code
            AND NEW.refunded >= OLD.refunded AND NEW.refunded <= NEW.amount
            AND (NEW.state = OLD.state OR (OLD.state IN ('completed', 'partially_refunded') AND NEW.state IN ('partially_refunded', 'refunded')))
        THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'closed day: the facility-day of this % (%, %) is closed', TG_TABLE_NAME, facility, day;
END;
$$;

CREATE TRIGGER sales_closed_day BEFORE INSERT OR UPDATE OR DELETE ON sales
FOR EACH ROW EXECUTE FUNCTION refuse_closed_day_change();
CREATE TRIGGER payments_closed_day BEFORE INSERT OR UPDATE OR DELETE ON payments
FOR EACH ROW EXECUTE FUNCTION refuse_closed_day_change();
CREATE TRIGGER refunds_closed_day BEFORE INSERT OR UPDATE OR DELETE ON refunds
FOR EACH ROW EXECUTE FUNCTION refuse_closed_day_change();
CREATE TRIGGER reversals_closed_day BEFORE INSERT OR UPDATE OR DELETE ON reversals
FOR EACH ROW EXECUTE FUNCTION refuse_closed_day_change();
