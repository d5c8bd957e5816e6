-- QR payments (PROTOCOLS.md §2): the code shown for a payment, and the clerk's cancel request,
-- journaled so a restarted gateway can resume watching, withdraw the code or cancel at the provider.

ALTER TABLE payments ADD COLUMN qr_code_id TEXT;
ALTER TABLE payments ADD COLUMN qr_url TEXT;
ALTER TABLE payments ADD COLUMN qr_deeplink TEXT;
ALTER TABLE payments ADD COLUMN qr_expires_at BIGINT;
ALTER TABLE payments ADD COLUMN qr_cancel_requested_at TEXT;
CREATE INDEX payments_register_method ON payments (register_id, method);
