//! The journal contract, version 1: what the reconciler reads of the gateway's journal.
//!
//! The gateway's migrations (`0011_recon_v1.sql`, both backends) define one view per record the
//! reconciler needs, and [`crate::source`] reads those views only, never the tables behind them.
//! The gateway's test `treasury::the_journal_contract_holds` checks on both backends that every
//! view here exists with exactly these columns and that every index here exists, so a migration
//! that breaks the contract fails the gateway's tests, not a treasury clerk's run.

/// A view of the contract and its columns, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContractView {
    pub name: &'static str,
    pub columns: &'static [&'static str],
}

impl ContractView {
    /// The columns as a select list.
    pub fn select_list(&self) -> String {
        self.columns.join(", ")
    }
}

/// A payment with its sale's receipt.
pub const PAYMENTS: ContractView = ContractView {
    name: "recon_v1_payments",
    columns: &[
        "id",
        "sale_id",
        "facility_id",
        "register_id",
        "shift_id",
        "method",
        "brand",
        "amount",
        "state",
        "business_date",
        "created_at",
        "terminal_id",
        "masked_card",
        "acquirer_stan",
        "rrn",
        "receipt_fiscal_year",
        "receipt_number",
    ],
};

/// A refund, dated by its `created_at` (UTC text).
pub const REFUNDS: ContractView = ContractView {
    name: "recon_v1_refunds",
    columns: &["id", "payment_id", "facility_id", "amount", "method", "state", "acquirer_stan", "rrn", "created_at"],
};

/// A shift with its float and count.
pub const SHIFTS: ContractView = ContractView {
    name: "recon_v1_shifts",
    columns: &[
        "id",
        "facility_id",
        "register_id",
        "business_date",
        "opened_at",
        "opening_float",
        "cash_expected",
        "cash_counted",
        "over_short",
    ],
};

/// A sale's line with its revenue account.
pub const SALE_LINES: ContractView = ContractView {
    name: "recon_v1_sale_lines",
    columns: &["sale_id", "line_no", "fee_item", "quantity", "amount", "revenue_account"],
};

/// Every view of the contract.
pub const VIEWS: [ContractView; 4] = [PAYMENTS, REFUNDS, SHIFTS, SALE_LINES];

/// An index the per-facility-day reads need: its name, table and leading columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContractIndex {
    pub name: &'static str,
    pub table: &'static str,
    pub columns: &'static [&'static str],
}

/// The indexes the reads of [`crate::source`] rely on (primary keys aside: `sales (id)`,
/// `sale_lines (sale_id, line_no)`, `payments (id)`).
pub const INDEXES: [ContractIndex; 4] = [
    ContractIndex { name: "payments_date_facility", table: "payments", columns: &["business_date", "facility_id"] },
    ContractIndex { name: "payments_sale", table: "payments", columns: &["sale_id"] },
    ContractIndex { name: "refunds_facility_created", table: "refunds", columns: &["facility_id", "created_at"] },
    ContractIndex { name: "shifts_facility_date", table: "shifts", columns: &["facility_id", "business_date"] },
];
