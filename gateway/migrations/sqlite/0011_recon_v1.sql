-- The journal contract the reconciler reads (issue 15, item 7): version 1.
--
-- The reconciler, the benchmark's generator checks and the treasury API read the journal only
-- through these views, never through the tables behind them. A migration may change the tables
-- freely as long as every view keeps its name and columns (`reconciler::contract` lists them,
-- and the gateway's test `treasury::the_journal_contract_holds` fails otherwise); a change the
-- views cannot absorb adds `recon_v2_*` beside them, and the reconciler moves when it is ready.
--
-- The per-facility-day reads need these indexes, which the contract also names (the test checks
-- that they exist): payments_date_facility (payments: business_date, facility_id),
-- refunds_facility_created (refunds: facility_id, created_at), shifts_facility_date (shifts:
-- facility_id, business_date), the primary keys of sales (id) and sale_lines (sale_id, line_no),
-- and payments_sale (payments: sale_id).
-- (The PostgreSQL twin is the same text.)

-- A payment with the receipt of its sale (once the sale was paid).
CREATE VIEW recon_v1_payments AS
SELECT p.id, p.sale_id, p.facility_id, p.register_id, p.shift_id, p.method, p.brand, p.amount, p.state,
       p.business_date, p.created_at, p.terminal_id, p.masked_card, p.acquirer_stan, p.rrn,
       s.receipt_fiscal_year, s.receipt_number
FROM payments p LEFT JOIN sales s ON s.id = p.sale_id;

-- A refund of a payment, dated by when it was made (UTC text).
CREATE VIEW recon_v1_refunds AS
SELECT id, payment_id, facility_id, amount, method, state, acquirer_stan, rrn, created_at
FROM refunds;

-- A shift with its float and, once closed, its count.
CREATE VIEW recon_v1_shifts AS
SELECT id, facility_id, register_id, business_date, opened_at, opening_float, cash_expected, cash_counted, over_short
FROM shifts;

-- A sale's lines with their revenue accounts.
CREATE VIEW recon_v1_sale_lines AS
SELECT sale_id, line_no, fee_item, quantity, amount, revenue_account
FROM sale_lines;
