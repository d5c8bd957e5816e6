//! The city's receipt (領収書), built from a paid sale, and its printed document.
//!
//! A [`Receipt`] holds only what is printed, already checked: the card number is a masked form
//! (first 6 / last 4 for cards, at most [`EMONEY_VISIBLE_CHARS_MAX`] visible characters for
//! e-money card ids), so nothing else from the payment can reach the paper. [`Receipt::document`]
//! lays it out; [`render_text`] is what the paper shows and [`encode`] what the printer receives.
//!
//! A reprint is marked twice: 【再発行】 in double size under the title, and the reprint's own
//! date and time at the foot, so a copy cannot pass for the original.

use chrono::{DateTime, FixedOffset, Utc};
use pos_core::api::{PaymentView, ReceiptNumber, SaleView};
use pos_core::masking::MASK_CHAR;
use pos_core::{Brand, MaskedPan, Method, SaleState, Yen};

use super::document::{Alignment, Block, Document, LineWidth, Style};

/// The title.
pub const TITLE: &str = "領収書";
/// The reprint mark under the title.
pub const REPRINT_MARK: &str = "【再発行】";
/// The most characters of an e-money card id left visible (the same bound as a card's 6 + 4).
pub const EMONEY_VISIBLE_CHARS_MAX: usize = 10;
/// The longest masked card or e-money id accepted.
pub const MASKED_CARD_CHARS_MAX: usize = 19;
/// The counters' printers take 80 mm paper: 42 columns, a full-width character counting two.
pub const RECEIPT_WIDTH: LineWidth = LineWidth::Columns42;
/// How date and time are printed (JST).
pub const DATE_TIME_FORMAT: &str = "%Y年%m月%d日 %H:%M";

/// Whether this is the first print or a later copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Issue {
    Original,
    /// A copy printed at this instant.
    Reprint {
        printed_at: DateTime<Utc>,
    },
}

/// One fee item line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptItem {
    pub name: String,
    pub quantity: u32,
    pub amount: Yen,
}

/// How one payment was made, with only the details the receipt may show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tender {
    Cash {
        amount: Yen,
        tendered: Option<Yen>,
        change: Option<Yen>,
    },
    Cashless {
        method: Method,
        brand: Option<Brand>,
        amount: Yen,
        /// Checked to be masked (see the module documentation).
        masked_card: Option<String>,
        approval_code: Option<String>,
        /// The retrieval reference (trace) number.
        reference: Option<String>,
    },
}

/// A receipt, ready to lay out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub city_name: String,
    pub facility_name: String,
    pub paid_at: DateTime<FixedOffset>,
    pub number: ReceiptNumber,
    pub items: Vec<ReceiptItem>,
    pub total: Yen,
    pub tenders: Vec<Tender>,
    pub issue: Issue,
}

/// Why a sale cannot be printed as a receipt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    #[error("sale {sale_id} is {state:?}, not paid; only a paid sale gets a receipt")]
    NotPaid { sale_id: String, state: SaleState },
    #[error("sale {sale_id} is paid but has no receipt number")]
    NoReceiptNumber { sale_id: String },
    #[error("sale {sale_id} is paid but has no payment time")]
    NoPaymentTime { sale_id: String },
    /// The text is never repeated: it may be a whole card number.
    #[error("payment {payment_id} carries a card number that is not masked; refusing to print it")]
    CardNumberNotMasked { payment_id: String },
}

impl Receipt {
    /// The receipt of a paid sale. Only payments that took money appear (declined or cancelled
    /// attempts are not tenders).
    pub fn from_sale(
        sale: &SaleView,
        facility_name: &str,
        city_name: &str,
        issue: Issue,
    ) -> Result<Receipt, ReceiptError> {
        if sale.state != SaleState::Paid {
            return Err(ReceiptError::NotPaid { sale_id: sale.id.clone(), state: sale.state });
        }
        let number = sale.receipt.ok_or_else(|| ReceiptError::NoReceiptNumber { sale_id: sale.id.clone() })?;
        let paid_at = sale.paid_at.ok_or_else(|| ReceiptError::NoPaymentTime { sale_id: sale.id.clone() })?;
        let items = sale
            .lines
            .iter()
            .map(|line| ReceiptItem { name: line.name_ja.clone(), quantity: line.quantity, amount: line.amount })
            .collect();
        let tenders = sale
            .payments
            .iter()
            .filter(|payment| payment.state.holds_money())
            .map(tender)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Receipt {
            city_name: city_name.to_string(),
            facility_name: facility_name.to_string(),
            paid_at: paid_at.with_timezone(&pos_core::time::jst()),
            number,
            items,
            total: sale.amount_total,
            tenders,
            issue,
        })
    }

    /// `No. 2026-000123`: the fiscal year (by its starting year) and the number in it.
    pub fn number_text(&self) -> String {
        format!("No. {}-{:06}", self.number.fiscal_year.start_year(), self.number.number)
    }

    /// The receipt laid out at `width`.
    pub fn document(&self, width: LineWidth) -> Document {
        let mut document = Document::new(width);
        let centered = |text: &str, style| Block::Text { text: text.to_string(), alignment: Alignment::Center, style };
        let pair = |label: &str, value: String| Block::Pair { label: label.to_string(), value, style: Style::NORMAL };
        document.push(centered(TITLE, Style::DOUBLE));
        if let Issue::Reprint { .. } = self.issue {
            document.push(centered(REPRINT_MARK, Style::DOUBLE));
        }
        document.push(Block::Feed(1));
        document.push(centered(&self.city_name, Style::NORMAL));
        document.push(centered(&self.facility_name, Style::NORMAL));
        document.push(pair("日時", self.paid_at.format(DATE_TIME_FORMAT).to_string()));
        document.push(pair("領収書番号", self.number_text()));
        document.push(Block::Separator);
        for item in &self.items {
            document.push(pair(&format!("{} × {}", item.name, item.quantity), item.amount.to_string()));
        }
        document.push(Block::Separator);
        document.push(Block::Pair { label: "合計".into(), value: self.total.to_string(), style: Style::DOUBLE });
        document.push(Block::Separator);
        for tender in &self.tenders {
            push_tender(&mut document, tender);
        }
        document.push(Block::Separator);
        document.push(Block::Text {
            text: "上記の金額を領収いたしました。".into(),
            alignment: Alignment::Left,
            style: Style::NORMAL,
        });
        document.push(Block::Text { text: self.city_name.clone(), alignment: Alignment::Right, style: Style::NORMAL });
        if let Issue::Reprint { printed_at } = self.issue {
            let printed_at = printed_at.with_timezone(&pos_core::time::jst());
            document.push(pair("再発行日時", printed_at.format(DATE_TIME_FORMAT).to_string()));
        }
        document.push(Block::Feed(2));
        document
    }
}

fn push_tender(document: &mut Document, tender: &Tender) {
    let pair = |label: &str, value: String| Block::Pair { label: label.to_string(), value, style: Style::NORMAL };
    match tender {
        Tender::Cash { amount, tendered, change } => {
            document.push(pair(Brand::Cash.display_name(), amount.to_string()));
            if let Some(tendered) = tendered {
                document.push(pair("  お預り", tendered.to_string()));
            }
            if let Some(change) = change {
                document.push(pair("  お釣り", change.to_string()));
            }
        }
        Tender::Cashless { method, brand, amount, masked_card, approval_code, reference } => {
            let name = brand.map_or(method.name_ja(), Brand::display_name);
            document.push(pair(&format!("{} {name}", method.name_ja()), amount.to_string()));
            if let Some(masked_card) = masked_card {
                document.push(pair("  カード番号", masked_card.clone()));
            }
            if let Some(approval_code) = approval_code {
                document.push(pair("  承認番号", approval_code.clone()));
            }
            if let Some(reference) = reference {
                document.push(pair("  取引番号", reference.clone()));
            }
        }
    }
}

fn tender(payment: &PaymentView) -> Result<Tender, ReceiptError> {
    if payment.method == Method::Cash {
        return Ok(Tender::Cash { amount: payment.amount, tendered: payment.tendered, change: payment.change });
    }
    let masked_card = match &payment.masked_card {
        Some(text) => Some(
            checked_mask(text, payment.method)
                .ok_or_else(|| ReceiptError::CardNumberNotMasked { payment_id: payment.id.clone() })?,
        ),
        None => None,
    };
    Ok(Tender::Cashless {
        method: payment.method,
        brand: payment.brand,
        amount: payment.amount,
        masked_card,
        approval_code: payment.auth_code.clone(),
        reference: payment.rrn.clone(),
    })
}

/// The masked form if `text` shows no more than it may, else `None`. Cards follow the PCI DSS
/// first 6 / last 4 rule; an e-money id (letters and digits) may show at most
/// [`EMONEY_VISIBLE_CHARS_MAX`] characters and must hide the rest.
fn checked_mask(text: &str, method: Method) -> Option<String> {
    if method == Method::Card {
        return MaskedPan::parse_masked(text).ok().map(|masked| masked.as_str().to_string());
    }
    let length = text.chars().count();
    let visible = text.chars().filter(|character| *character != MASK_CHAR).count();
    let well_formed = text.chars().all(|character| character.is_ascii_alphanumeric() || character == MASK_CHAR);
    (well_formed && length <= MASKED_CARD_CHARS_MAX && visible <= EMONEY_VISIBLE_CHARS_MAX && visible < length)
        .then(|| text.to_string())
}

/// What the paper shows for `receipt` at [`RECEIPT_WIDTH`]; other widths through
/// [`Receipt::document`].
pub fn render_text(receipt: &Receipt) -> String {
    receipt.document(RECEIPT_WIDTH).render_text()
}

/// The ESC/POS bytes for `receipt` at [`RECEIPT_WIDTH`], cut included.
pub fn encode(receipt: &Receipt) -> Vec<u8> {
    receipt.document(RECEIPT_WIDTH).encode()
}
