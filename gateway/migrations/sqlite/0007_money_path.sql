-- The money path (issue: terminal identity, reversal outcomes, one lifecycle): one open
-- money-returning operation per payment, refund approvals that share no token, exceptions the
-- switch raises for treasury, the approver in the audit record, and closed days the database
-- itself keeps closed.

-- The id of the refund or reversal now returning money on the payment, if any: claimed with
-- `WHERE money_return IS NULL`, so two can never be open at once.
ALTER TABLE payments ADD COLUMN money_return TEXT;
-- The terminal's own field 7 (its reversal names it in field 90) and when the payment completed
-- (a terminal may reverse only what it just had answered).
ALTER TABLE payments ADD COLUMN terminal_transmitted_at TEXT;
ALTER TABLE payments ADD COLUMN completed_at TEXT;

-- The day a refund is booked to (the day it was made, Asia/Tokyo), and who approved it.
ALTER TABLE refunds ADD COLUMN business_date TEXT;
ALTER TABLE refunds ADD COLUMN approved_by TEXT;
CREATE INDEX refunds_facility_created ON refunds (facility_id, created_at);

-- The acquirer's last answer to a reversal (field 39 as sent, or what came instead).
ALTER TABLE reversals ADD COLUMN last_answer TEXT;

-- A clerk's refund waits for a supervisor (kind 'request'), or is approved by a one-time code a
-- supervisor issued for that payment and amount (kind 'code', only its SHA-256 is kept).
CREATE TABLE refund_approvals (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('request', 'code')),
    payment_id TEXT NOT NULL REFERENCES payments (id),
    facility_id TEXT NOT NULL,
    register_id TEXT NOT NULL,
    amount INTEGER NOT NULL CHECK (amount > 0),
    reason TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'expired', 'used', 'locked')),
    code_sha256 TEXT,
    tries INTEGER NOT NULL DEFAULT 0,
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

-- Where an exception came from: a reconciliation run (which clears what it no longer finds) or the
-- switch (a reversal the acquirer would not confirm, a QR amount that disagrees), which only
-- treasury's resolution ends.
ALTER TABLE treasury_exceptions ADD COLUMN source TEXT NOT NULL DEFAULT 'reconciliation';

-- What a request did (ids, amounts, approver), covered by the record's hash when present.
ALTER TABLE audit_log ADD COLUMN detail TEXT NOT NULL DEFAULT '';

-- Closed days: no sale, payment, refund or reversal of a closed facility-day changes. The one
-- update a closed day's payment still takes is its running refunded total, because a refund made
-- later is booked on the later day (its own row) and only points back at the payment.
CREATE TRIGGER sales_closed_day_insert BEFORE INSERT ON sales
WHEN EXISTS (SELECT 1 FROM treasury_closed_days c WHERE c.facility_id = NEW.facility_id AND c.business_date = NEW.business_date)
BEGIN SELECT RAISE(ABORT, 'closed day: the facility-day of this sale is closed'); END;
CREATE TRIGGER sales_closed_day_update BEFORE UPDATE ON sales
WHEN EXISTS (SELECT 1 FROM treasury_closed_days c WHERE c.facility_id = OLD.facility_id AND c.business_date = OLD.business_date)
BEGIN SELECT RAISE(ABORT, 'closed day: the facility-day of this sale is closed'); END;
CREATE TRIGGER sales_closed_day_delete BEFORE DELETE ON sales
WHEN EXISTS (SELECT 1 FROM treasury_closed_days c WHERE c.facility_id = OLD.facility_id AND c.business_date = OLD.business_date)
BEGIN SELECT RAISE(ABORT, 'closed day: the facility-day of this sale is closed'); END;

CREATE TRIGGER payments_closed_day_insert BEFORE INSERT ON payments
WHEN EXISTS (SELECT 1 FROM treasury_closed_days c WHERE c.facility_id = NEW.facility_id AND c.business_date = NEW.business_date)
BEGIN SELECT RAISE(ABORT, 'closed day: the facility-day of this payment is closed'); END;
CREATE TRIGGER payments_closed_day_update BEFORE UPDATE ON payments
WHEN EXISTS (SELECT 1 FROM treasury_closed_days c WHERE c.facility_id = OLD.facility_id AND c.business_date = OLD.business_date)
 AND NOT (
    NEW.id = OLD.id AND NEW.sale_id = OLD.sale_id AND NEW.facility_id = OLD.facility_id
    AND NEW.business_date = OLD.business_date AND NEW.method = OLD.method AND NEW.amount = OLD.amount
    AND NEW.brand IS OLD.brand AND NEW.rrn IS OLD.rrn AND NEW.response_code IS OLD.response_code
    AND NEW.refunded >= OLD.refunded AND NEW.refunded <= NEW.amount
    AND (NEW.state = OLD.state OR (OLD.state IN ('completed', 'partially_refunded') AND NEW.state IN ('partially_refunded', 'refunded')))
 )
BEGIN SELECT RAISE(ABORT, 'closed day: the facility-day of this payment is closed'); END;
CREATE TRIGGER payments_closed_day_delete BEFORE DELETE ON payments
WHEN EXISTS (SELECT 1 FROM treasury_closed_days c WHERE c.facility_id = OLD.facility_id AND c.business_date = OLD.business_date)
BEGIN SELECT RAISE(ABORT, 'closed day: the facility-day of this payment is closed'); END;

CREATE TRIGGER refunds_closed_day_insert BEFORE INSERT ON refunds
WHEN EXISTS (SELECT 1 FROM treasury_closed_days c WHERE c.facility_id = NEW.facility_id AND c.business_date = NEW.business_date)
BEGIN SELECT RAISE(ABORT, 'closed day: the facility-day of this refund is closed'); END;
CREATE TRIGGER refunds_closed_day_update BEFORE UPDATE ON refunds
WHEN EXISTS (SELECT 1 FROM treasury_closed_days c WHERE c.facility_id = OLD.facility_id AND c.business_date = OLD.business_date)
BEGIN SELECT RAISE(ABORT, 'closed day: the facility-day of this refund is closed'); END;
CREATE TRIGGER refunds_closed_day_delete BEFORE DELETE ON refunds
WHEN EXISTS (SELECT 1 FROM treasury_closed_days c WHERE c.facility_id = OLD.facility_id AND c.business_date = OLD.business_date)
BEGIN SELECT RAISE(ABORT, 'closed day: the facility-day of this refund is closed'); END;

-- A reversal belongs to the day of the payment it reverses.
CREATE TRIGGER reversals_closed_day_insert BEFORE INSERT ON reversals
WHEN EXISTS (SELECT 1 FROM payments p JOIN treasury_closed_days c ON c.facility_id = p.facility_id AND c.business_date = p.business_date WHERE p.id = NEW.payment_id)
BEGIN SELECT RAISE(ABORT, 'closed day: the facility-day of the payment this reversal reverses is closed'); END;
CREATE TRIGGER reversals_closed_day_update BEFORE UPDATE ON reversals
WHEN EXISTS (SELECT 1 FROM payments p JOIN treasury_closed_days c ON c.facility_id = p.facility_id AND c.business_date = p.business_date WHERE p.id = OLD.payment_id)
BEGIN SELECT RAISE(ABORT, 'closed day: the facility-day of the payment this reversal reverses is closed'); END;
CREATE TRIGGER reversals_closed_day_delete BEFORE DELETE ON reversals
WHEN EXISTS (SELECT 1 FROM payments p JOIN treasury_closed_days c ON c.facility_id = p.facility_id AND c.business_date = p.business_date WHERE p.id = OLD.payment_id)
BEGIN SELECT RAISE(ABORT, 'closed day: the facility-day of the payment this reversal reverses is closed'); END;
