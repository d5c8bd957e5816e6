//! The gateway's HTTP API (`/v1`) as types: requests the counters send and views they get back.
//!
//! Shared by the gateway, the demo's client, and later the counter daemon and pages, so that all
//! of them agree on the wire shape. Requests refuse unknown fields: a misspelt key is an error,
//! never silently ignored.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::brand::{Brand, Method};
use crate::cash::CashCount;
use crate::ids::{FacilityId, FeeItemCode, RegisterId, UserName};
use crate::money::Yen;
use crate::payment::PaymentState;
use crate::refund::RefundState;
use crate::sale::SaleState;
use crate::time::{BusinessDate, FiscalYear};

/// The most units of one fee item on one sale line.
pub const LINE_QUANTITY_MAX: u32 = 99;
/// The most lines on one sale.
pub const SALE_LINES_MAX: usize = 50;
/// The longest void reason accepted.
pub const REASON_CHARS_MAX: usize = 200;
/// The header that makes a money-moving request safe to repeat.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
/// The longest idempotency key accepted.
pub const IDEMPOTENCY_KEY_CHARS_MAX: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenShiftRequest {
    pub register_id: RegisterId,
    pub opening_float: Yen,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseShiftRequest {
    /// The drawer count by denomination, e.g. `{"10000": 3, "1000": 12, "100": 7}`.
    pub counted: CashCount,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSaleRequest {
    pub register_id: RegisterId,
    pub lines: Vec<SaleLineRequest>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaleLineRequest {
    pub fee_item: FeeItemCode,
    pub quantity: u32,
    /// Only for open-priced items: the unit amount entered at the counter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Yen>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentRequest {
    pub method: Method,
    /// Cash handed over by the citizen (cash only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tendered: Option<Yen>,
    /// Part of the amount due to pay with this payment (split tender); the whole remainder when
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Yen>,
    /// The QR brand the customer pays with (QR only: it picks the provider whose code is shown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand: Option<crate::Brand>,
    /// The barcode the counter scanned from the customer's app (QR only, 12–24 digits): the
    /// customer-presented flow instead of showing a code. A bearer credential: the gateway keeps
    /// only its first and last four digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_code: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoidSaleRequest {
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShiftState {
    Open,
    Closed,
}

/// Expected against counted cash at the close of a shift (過不足).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CashReconciliation {
    pub opening_float: Yen,
    pub cash_sales: Yen,
    pub expected: Yen,
    pub counted: Yen,
    /// Counted minus expected: positive is over (過剰), negative is short (不足).
    pub over_short: Yen,
    pub count: CashCount,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ShiftView {
    pub id: String,
    pub facility_id: FacilityId,
    pub register_id: RegisterId,
    pub state: ShiftState,
    pub business_date: BusinessDate,
    pub opened_at: DateTime<Utc>,
    pub opened_by: UserName,
    pub opening_float: Yen,
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by: Option<UserName>,
    pub cash: Option<CashReconciliation>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ShiftList {
    pub shifts: Vec<ShiftView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SaleLineView {
    pub fee_item: FeeItemCode,
    pub name_ja: String,
    pub unit_price: Yen,
    pub quantity: u32,
    pub amount: Yen,
    pub revenue_account: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PaymentView {
    pub id: String,
    pub sale_id: String,
    pub method: Method,
    /// Known once the card or code is read; cash is always `CASH`.
    pub brand: Option<Brand>,
    pub amount: Yen,
    pub tendered: Option<Yen>,
    pub change: Option<Yen>,
    pub state: PaymentState,
    pub created_at: DateTime<Utc>,
    pub business_date: BusinessDate,
    /// The terminal a card or e-money payment is waiting on.
    pub terminal_id: Option<String>,
    /// Masked card number (first 6 / last 4) or masked e-money card id; never more.
    pub masked_card: Option<String>,
    pub response_code: Option<String>,
    pub rrn: Option<String>,
    pub auth_code: Option<String>,
    /// What happened, in words a clerk can act on ("declined: insufficient funds", "checking —
    /// do not retry").
    pub note: Option<String>,
    /// How much of the amount has been refunded.
    pub refunded: Yen,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PaymentList {
    pub payments: Vec<PaymentView>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundMethod {
    /// Back to the card or e-money it was paid with, through the acquirer.
    Original,
    /// Cash handed back, recorded by treasury (for brands that take no refunds).
    Cash,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    pub amount: Yen,
    pub method: RefundMethod,
    pub reason: String,
    /// A clerk's refund: the one-time code a supervisor issued for this payment and amount
    /// (`POST /v1/payments/{id}/approval-codes`). Without it, a clerk asks for approval instead
    /// (`POST /v1/payments/{id}/refund-requests`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_code: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RefundView {
    pub id: String,
    pub payment_id: String,
    pub amount: Yen,
    pub method: RefundMethod,
    pub state: RefundState,
    pub response_code: Option<String>,
    pub rrn: Option<String>,
    pub reason: String,
    pub created_at: DateTime<Utc>,
    /// Who made it.
    pub created_by: UserName,
    /// The supervisor who approved a clerk's refund.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<UserName>,
}

/// The longest one-time approval code a clerk may type.
pub const APPROVAL_CODE_CHARS_MAX: usize = 16;

/// A clerk asks a supervisor to approve a refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundApprovalRequest {
    pub amount: Yen,
    pub reason: String,
}

/// A supervisor's decision on a clerk's refund request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalDecision {
    #[serde(default)]
    pub note: String,
}

/// A supervisor issues a one-time code approving a refund of this amount of one payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalCodeRequest {
    pub amount: Yen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalState {
    /// Waiting for the supervisor (a request) or for the clerk to use it (a code).
    Pending,
    /// The supervisor approved the request: the refund was made.
    Approved,
    Rejected,
    /// Not decided or used within its validity.
    Expired,
    /// A code that approved a refund.
    Used,
    /// A code refused after too many wrong tries.
    Locked,
}

impl ApprovalState {
    pub fn code(self) -> &'static str {
        match self {
            ApprovalState::Pending => "pending",
            ApprovalState::Approved => "approved",
            ApprovalState::Rejected => "rejected",
            ApprovalState::Expired => "expired",
            ApprovalState::Used => "used",
            ApprovalState::Locked => "locked",
        }
    }
}

impl std::str::FromStr for ApprovalState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            ApprovalState::Pending,
            ApprovalState::Approved,
            ApprovalState::Rejected,
            ApprovalState::Expired,
            ApprovalState::Used,
            ApprovalState::Locked,
        ]
        .into_iter()
        .find(|state| state.code() == s)
        .ok_or_else(|| format!("unknown approval state {s:?}"))
    }
}

/// A clerk's refund request as the register and the supervisor see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RefundApprovalView {
    pub id: String,
    pub payment_id: String,
    pub facility_id: FacilityId,
    pub register_id: RegisterId,
    pub amount: Yen,
    pub reason: String,
    pub state: ApprovalState,
    pub requested_by: Option<UserName>,
    /// Who approved or rejected it.
    pub approver: Option<UserName>,
    pub decision_note: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    /// The refund made on approval.
    pub refund: Option<RefundView>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The payment being refunded, for the supervisor's list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RefundApprovalList {
    pub requests: Vec<RefundApprovalView>,
}

/// A one-time approval code, shown once to the supervisor who issued it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApprovalCodeView {
    pub code: String,
    pub payment_id: String,
    pub amount: Yen,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// The money was taken (the settlement shows the sale).
    Completed,
    /// Nothing was taken.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    pub outcome: Resolution,
    pub note: String,
}

/// A receipt number (領収書番号): gapless per register and fiscal year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReceiptNumber {
    pub fiscal_year: FiscalYear,
    pub number: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SaleView {
    pub id: String,
    pub facility_id: FacilityId,
    pub register_id: RegisterId,
    pub shift_id: String,
    pub state: SaleState,
    pub business_date: BusinessDate,
    pub created_at: DateTime<Utc>,
    pub created_by: UserName,
    pub amount_total: Yen,
    pub amount_paid: Yen,
    pub amount_due: Yen,
    pub receipt: Option<ReceiptNumber>,
    pub paid_at: Option<DateTime<Utc>>,
    pub voided_at: Option<DateTime<Utc>>,
    pub void_reason: Option<String>,
    pub lines: Vec<SaleLineView>,
    pub payments: Vec<PaymentView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PaymentResult {
    pub payment: PaymentView,
    pub sale: SaleView,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SaleList {
    pub sales: Vec<SaleView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable (`unknown_fee_item`, `shift_closed`, …).
    pub code: String,
    /// For a person: what is wrong and, where it helps, what to do.
    pub message: String,
    /// The request field the error is about (`lines[1].fee_item`), when there is one.
    pub field: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WhoAmI {
    pub user: UserName,
    pub role: String,
    pub facilities: Vec<FacilityId>,
    pub register_id: Option<RegisterId>,
}

/// What the gateway asks a counter's devices to do (the server-driven model: counterd connects
/// out, takes commands for its register, runs them, and reports).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CommandKind {
    /// Take a card or e-money payment on the terminal for the payment waiting on it.
    Charge {
        payment_id: String,
        amount: Yen,
    },
    /// Print the receipt of a paid sale (again, marked 再発行, when `reprint`).
    PrintReceipt {
        sale_id: String,
        reprint: bool,
    },
    OpenDrawer,
    /// The terminal's end-of-day (totals per brand).
    EndOfDay,
    /// Read the next code from the barcode scanner, waiting at most `wait_ms` (at most
    /// [`SCAN_WAIT_MS_MAX`]; [`SCAN_WAIT_MS_DEFAULT`] when absent). With a sale and a QR brand,
    /// the counter then pays that sale with the code the customer presented.
    ScanCode {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sale_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        brand: Option<Brand>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        wait_ms: Option<u64>,
    },
    /// Show a QR code (its payload, at most [`QR_PAYLOAD_CHARS_MAX`] characters) on the
    /// customer-facing display.
    ShowQr {
        payload: String,
    },
}

/// How long a scan command waits for a code when it does not say.
pub const SCAN_WAIT_MS_DEFAULT: u64 = 60_000;
/// The longest a scan command may wait for a code.
pub const SCAN_WAIT_MS_MAX: u64 = 300_000;
/// The longest QR payload a counter is asked to show (a payment QR code's URL is well under it).
pub const QR_PAYLOAD_CHARS_MAX: usize = 1_024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CommandState {
    /// Waiting for the counter to take it.
    Queued,
    /// Taken by the counter; its result has not come back yet.
    Delivered,
    Done,
    Failed,
    /// The counter does not know how it ended (e.g. the terminal went silent mid-charge).
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeviceCommand {
    /// Unique; the counter runs a command at most once and answers a repeat from its own record.
    pub id: String,
    pub register_id: RegisterId,
    pub command: CommandKind,
    pub state: CommandState,
    pub created_at: DateTime<Utc>,
    pub result: Option<CommandResult>,
}

/// How a command ended, as the counter saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandResult {
    pub state: CommandState,
    /// What happened, for the clerk and the log (never card data beyond a masked number).
    pub detail: String,
    /// For a charge: the terminal's own trace and receipt numbers, result code, masked card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal: Option<TerminalReport>,
    /// What the command produced: the terminal's end-of-day totals, a scanned code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<CommandOutput>,
}

/// What a command produced, beyond how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CommandOutput {
    /// The terminal's totals as its end of day closed the batch.
    EndOfDay { totals: TerminalTotals },
    /// The code the barcode scanner read.
    Scanned { code: String },
}

/// A payment terminal's end-of-day totals as it reports them (ZVT BMP `60`, PROTOCOLS.md §3):
/// the period's receipt numbers and, for each of ZVT's seven card slots, how many payments and
/// their turnover. Per-brand detail is only on the terminal's print-out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TerminalTotals {
    /// The receipt numbers of the period's first and last receipt (both 0 when there was none).
    pub receipt_first: u32,
    pub receipt_last: u32,
    /// Every slot, in [`TotalsSlot::ALL`] order.
    pub slots: Vec<SlotTotal>,
    /// The grand total the terminal sent with them (BMP `04`): the sum of the turnovers.
    pub total: Yen,
}

/// One card slot of a terminal's end-of-day totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlotTotal {
    pub slot: TotalsSlot,
    /// Payments counted (ZVT carries one byte: at most 255).
    pub count: u32,
    /// Their amount, net of reversals on the terminal.
    pub turnover: Yen,
}

/// ZVT's card slots in end-of-day totals, in the order BMP `60` carries them. Brands without a
/// slot of their own (UnionPay and every e-money brand) are counted under `other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TotalsSlot {
    /// girocard / EC.
    Girocard,
    Jcb,
    /// Eurocard / Mastercard.
    Mastercard,
    AmericanExpress,
    Visa,
    Diners,
    /// Every other brand.
    Other,
}

impl TotalsSlot {
    pub const ALL: [TotalsSlot; 7] = [
        TotalsSlot::Girocard,
        TotalsSlot::Jcb,
        TotalsSlot::Mastercard,
        TotalsSlot::AmericanExpress,
        TotalsSlot::Visa,
        TotalsSlot::Diners,
        TotalsSlot::Other,
    ];

    /// The slot a brand's payments are counted in.
    pub fn of(brand: crate::Brand) -> TotalsSlot {
        match brand {
            crate::Brand::Jcb => TotalsSlot::Jcb,
            crate::Brand::Mastercard => TotalsSlot::Mastercard,
            crate::Brand::Amex => TotalsSlot::AmericanExpress,
            crate::Brand::Visa => TotalsSlot::Visa,
            _ => TotalsSlot::Other,
        }
    }

    /// A short label, as on the terminal's print-out.
    pub fn label(self) -> &'static str {
        match self {
            TotalsSlot::Girocard => "girocard",
            TotalsSlot::Jcb => "JCB",
            TotalsSlot::Mastercard => "Mastercard",
            TotalsSlot::AmericanExpress => "AMEX",
            TotalsSlot::Visa => "VISA",
            TotalsSlot::Diners => "Diners",
            TotalsSlot::Other => "other",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TerminalReport {
    pub result_code: Option<u8>,
    pub trace_number: Option<u32>,
    pub receipt_number: Option<u32>,
    pub masked_card: Option<String>,
    pub brand: Option<Brand>,
    pub amount: Option<Yen>,
}

/// The next command for a register, or none when the long poll timed out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NextCommand {
    pub command: Option<DeviceCommand>,
}

/// What counterd reports about its devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceHealth {
    pub terminal: DeviceStatus,
    pub printer: DeviceStatus,
    pub scanner: DeviceStatus,
    /// Free text for the operators (paper near end, cover open, …).
    #[serde(default)]
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeviceStatus {
    Ready,
    NotReady,
    Disconnected,
    Absent,
}

/// How long a counter's long poll for the next command may wait at most.
pub const COMMAND_WAIT_MS_MAX: u64 = 30_000;

/// A fee item as the register shows it: a fixed price, or an amount the clerk enters up to a
/// maximum (`open_price_max`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FeeItemView {
    pub code: FeeItemCode,
    pub name_ja: String,
    pub name_en: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_price: Option<Yen>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_price_max: Option<Yen>,
    pub revenue_account: String,
}

/// A facility as the pages need it: its names, registers, what it sells and what it accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FacilityView {
    pub id: FacilityId,
    pub name_ja: String,
    pub name_en: String,
    /// `city` or the operator's id.
    pub owner: String,
    pub registers: Vec<RegisterId>,
    pub fee_items: Vec<FeeItemView>,
    pub brands: Vec<Brand>,
    /// Of those, the QR brands (what the register offers under "QR").
    pub qr_brands: Vec<Brand>,
    pub split_tender: bool,
    pub open_price_items: bool,
    pub cash_tendered_max: Yen,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FacilityList {
    pub facilities: Vec<FacilityView>,
}

/// Where a facility's business day stands for treasury.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DayStatus {
    /// Nothing was taken and no shift was opened.
    Idle,
    /// A shift of the day is still open.
    ShiftsOpen,
    /// All shifts closed; not reconciled yet.
    NotReconciled,
    /// Reconciled, with exceptions still open.
    Exceptions,
    /// Reconciled; every exception resolved.
    Reconciled,
    /// Closed by treasury: immutable.
    Closed,
}

/// One facility's line on treasury's day board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DayBoardRow {
    pub facility_id: FacilityId,
    pub name_ja: String,
    pub name_en: String,
    /// `city` or the operator's id.
    pub owner: String,
    pub status: DayStatus,
    pub shifts_open: u64,
    pub shifts_closed: u64,
    pub sales_count: u64,
    /// Payments of the day whose money was taken (completed, or refunded since), all methods,
    /// gross of refunds as the 日計表's revenue.
    pub taken: Yen,
    /// Of which cashless (card, e-money, QR).
    pub taken_cashless: Yen,
    /// Summed over the day's closed shifts.
    pub cash_over_short: Yen,
    pub reconciled_at: Option<DateTime<Utc>>,
    pub exceptions_open: u64,
    pub exceptions_resolved: u64,
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by: Option<UserName>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DayBoard {
    pub business_date: BusinessDate,
    pub facilities: Vec<DayBoardRow>,
    /// The city's list of the day's latest run: exceptions no facility-day carries (payouts,
    /// bank lines). While one is open, no facility of the day can be closed.
    pub city_exceptions_open: u64,
    pub city_exceptions_resolved: u64,
    /// The bank statement's lines the latest run read, and how many nothing explains.
    pub bank_lines: u64,
    pub bank_lines_unmatched: u64,
}

/// What treasury asks of a reconciliation run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReconcileRequest {
    /// One facility; all facilities with activity that day when absent.
    #[serde(default)]
    pub facility_id: Option<FacilityId>,
    /// The date the run looks from (timing differences end at the settlement lag after the
    /// business day); today when absent.
    #[serde(default)]
    pub as_of: Option<chrono::NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReconciledFacility {
    pub facility_id: FacilityId,
    pub gross: Yen,
    pub exceptions: u64,
    /// `reconciled`, or `closed` when the day was closed already and left as it was.
    pub outcome: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReconcileResult {
    pub business_date: BusinessDate,
    pub as_of: chrono::NaiveDate,
    pub files_used: u64,
    pub facilities: Vec<ReconciledFacility>,
    /// Exceptions on the city's list (payouts, bank lines no facility-day carries).
    pub city_exceptions: u64,
}

/// Where a background reconciliation run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Running,
    Succeeded,
    /// It stopped on an error, or the gateway stopped while it ran; the day can be run again.
    Failed,
}

/// A reconciliation run of a business day: `POST …/reconcile` answers with it at once (`202`),
/// `GET /v1/treasury/runs/{id}` shows it as it goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TreasuryRunView {
    pub run_id: String,
    pub business_date: BusinessDate,
    pub as_of: chrono::NaiveDate,
    pub facility_id: Option<FacilityId>,
    pub state: RunState,
    pub facility_days_done: u64,
    pub facility_days_total: u64,
    pub files_read: u64,
    /// Exceptions found so far (the facility-days done).
    pub exceptions_found: u64,
    pub started_by: String,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub ended_at: Option<chrono::DateTime<chrono::Utc>>,
    pub elapsed_ms: u64,
    /// The time still needed at the pace so far, once a facility-day is done.
    pub estimate_remaining_ms: Option<u64>,
    pub error: Option<String>,
    /// What the run did, once it succeeded.
    pub result: Option<ReconcileResult>,
    /// The day's exceptions as stored so far.
    pub exceptions: Vec<ExceptionView>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExceptionState {
    Open,
    Resolved,
    /// A later run no longer finds it.
    Cleared,
}

/// An exception as treasury works it: what the reconciler found and how it was resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExceptionView {
    pub id: String,
    /// `None` on the city's list: a payout or a bank line no facility-day carries.
    pub facility_id: Option<FacilityId>,
    pub business_date: BusinessDate,
    pub kind: String,
    pub name_ja: String,
    pub name_en: String,
    /// The records, as treasury finds them (receipt, file and line, bank reference).
    pub records: Vec<String>,
    pub records_en: Vec<String>,
    /// Its effect on the city's money: negative when the city gets less than the journal says.
    pub amount_at_stake: Yen,
    /// What was found, in Japanese and in English.
    pub detail: String,
    pub detail_en: String,
    pub suggested_action: String,
    pub suggested_action_en: String,
    pub state: ExceptionState,
    pub found_at: DateTime<Utc>,
    pub resolution_action: Option<String>,
    pub resolution_note: Option<String>,
    pub resolved_by: Option<UserName>,
    pub resolved_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExceptionList {
    pub exceptions: Vec<ExceptionView>,
}

/// Treasury's resolution of an exception: what was done, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveExceptionRequest {
    pub action: String,
    pub note: String,
}

/// A settlement or bank file treasury loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TreasuryFileView {
    pub sha256: String,
    pub kind: String,
    pub brand: Option<Brand>,
    pub name: String,
    pub size_bytes: u64,
    pub uploaded_by: UserName,
    pub uploaded_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TreasuryFileList {
    pub files: Vec<TreasuryFileView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClosedDayView {
    pub facility_id: FacilityId,
    pub business_date: BusinessDate,
    pub closed_at: DateTime<Utc>,
    pub closed_by: UserName,
    pub report_sha256: String,
}
