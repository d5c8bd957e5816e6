//! The settlement files of a day, in memory, and one line type that matching works on.
//!
//! Card, QR and e-money files differ in columns and keys; [`SettlementLine`] keeps what matching
//! needs from any of them (keys, amounts, payout) and where the line came from (file and line),
//! so that exceptions point back at the file. A line's payout is the acquirer's payout id when
//! the file has one (card, QR), otherwise its settlement date (e-money: 精算日).

use chrono::{DateTime, FixedOffset, NaiveDate};
use pos_core::{Brand, BusinessDate, TerminalId, Yen};

use crate::error::ReconcileError;
use crate::inputs::card::{CardRecord, CardRecordType, CardSettlement};
use crate::inputs::emoney::{EmoneyRecord, EmoneyTransactionKind};
use crate::inputs::identifiers::{PayoutId, Rrn, Stan};
use crate::inputs::qr::{QrRecord, QrTransactionKind};

/// A card acquirer's settlement file, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardFile {
    pub name: String,
    pub settlement: CardSettlement,
}

/// A QR provider's settlement file, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrFile {
    pub name: String,
    pub records: Vec<QrRecord>,
}

/// The e-money centre's settlement file, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmoneyFile {
    pub name: String,
    pub records: Vec<EmoneyRecord>,
}

/// Every settlement file available when a day is reconciled: the day's own and later ones (a
/// payment near midnight, or a 処理未了 outcome, arrives in a later file), for all facilities.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settlements {
    pub card: Vec<CardFile>,
    pub qr: Vec<QrFile>,
    pub emoney: Vec<EmoneyFile>,
}

/// Which kind of acquirer a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    Card,
    Qr,
    Emoney,
}

/// What a line records, across the three formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LineKind {
    Sale,
    Refund,
    /// A cancel (取消) of an earlier sale: negative.
    Cancel,
    /// 処理未了: the e-money centre does not know the outcome yet.
    OutcomeUnknown,
    Chargeback,
    ChargebackReversal,
    Adjustment,
}

impl LineKind {
    /// Lines that take money back from a sale the journal knows: refunds and cancels.
    pub fn is_refund_like(self) -> bool {
        matches!(self, LineKind::Refund | LineKind::Cancel)
    }
}

/// One settlement line, from any of the three formats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettlementLine {
    pub file: String,
    pub line: u64,
    pub source: Source,
    pub kind: LineKind,
    pub brand: Brand,
    /// Card and e-money: the facility's merchant id; QR: the merchant id at the provider.
    pub merchant: String,
    /// Card and e-money: the terminal id.
    pub terminal_id: Option<TerminalId>,
    /// QR: the provider's terminal id (端末ID), which is the register id.
    pub terminal_code: Option<String>,
    pub stan: Option<Stan>,
    pub rrn: Option<Rrn>,
    pub original_rrn: Option<Rrn>,
    /// QR: 加盟店決済番号.
    pub merchant_payment_id: Option<String>,
    pub time: DateTime<FixedOffset>,
    pub amount_gross: Yen,
    pub amount_fee: Yen,
    pub amount_net: Yen,
    pub settlement_date: NaiveDate,
    pub payout_id: Option<PayoutId>,
    pub payout_date: NaiveDate,
}

impl SettlementLine {
    pub fn business_date(&self) -> BusinessDate {
        BusinessDate::new(self.time.date_naive())
    }

    /// A card file's line.
    pub fn of_card(file: &str, record: &CardRecord) -> SettlementLine {
        SettlementLine {
            file: file.to_string(),
            line: record.line,
            source: Source::Card,
            kind: match record.record_type {
                CardRecordType::Sale => LineKind::Sale,
                CardRecordType::Refund => LineKind::Refund,
                CardRecordType::Chargeback => LineKind::Chargeback,
                CardRecordType::ChargebackReversal => LineKind::ChargebackReversal,
                CardRecordType::Adjustment => LineKind::Adjustment,
            },
            brand: record.brand,
            merchant: record.merchant_id.as_str().to_string(),
            terminal_id: Some(record.terminal_id.clone()),
            terminal_code: None,
            stan: Some(record.stan.clone()),
            rrn: Some(record.rrn.clone()),
            original_rrn: record.original_rrn.clone(),
            merchant_payment_id: None,
            time: record.transaction_time,
            amount_gross: record.amount_gross,
            amount_fee: record.amount_fee,
            amount_net: record.amount_net,
            settlement_date: record.settlement_date,
            payout_id: Some(record.payout_id.clone()),
            payout_date: record.payout_date,
        }
    }

    /// A QR provider's line.
    pub fn of_qr(file: &str, record: &QrRecord) -> SettlementLine {
        SettlementLine {
            file: file.to_string(),
            line: record.line,
            source: Source::Qr,
            kind: match record.kind {
                QrTransactionKind::Payment => LineKind::Sale,
                QrTransactionKind::Refund => LineKind::Refund,
                QrTransactionKind::Cancel => LineKind::Cancel,
            },
            brand: record.brand,
            merchant: record.merchant_code.as_str().to_string(),
            terminal_id: None,
            terminal_code: Some(record.terminal_code.as_str().to_string()),
            stan: None,
            rrn: None,
            original_rrn: None,
            merchant_payment_id: Some(record.merchant_payment_id.as_str().to_string()),
            time: record.transaction_time,
            amount_gross: record.amount_gross,
            amount_fee: record.amount_fee,
            amount_net: record.amount_net,
            // The QR file has no settlement date column; the payout date stands for it.
            settlement_date: record.payout_date,
            payout_id: Some(record.payout_id.clone()),
            payout_date: record.payout_date,
        }
    }

    /// The e-money centre's line; fails only if its net amount overflows.
    pub fn of_emoney(file: &str, record: &EmoneyRecord) -> Result<SettlementLine, ReconcileError> {
        let amount_net = record
            .amount_net()
            .map_err(|source| ReconcileError::Money { what: "an e-money line's net amount", source })?;
        Ok(SettlementLine {
            file: file.to_string(),
            line: record.line,
            source: Source::Emoney,
            kind: match record.kind {
                EmoneyTransactionKind::Sale => LineKind::Sale,
                EmoneyTransactionKind::Cancel => LineKind::Cancel,
                EmoneyTransactionKind::OutcomeUnknown => LineKind::OutcomeUnknown,
            },
            brand: record.brand,
            merchant: record.merchant_id.as_str().to_string(),
            terminal_id: Some(record.terminal_id.clone()),
            terminal_code: None,
            stan: Some(record.stan.clone()),
            rrn: None,
            original_rrn: None,
            merchant_payment_id: None,
            time: record.transaction_time,
            amount_gross: record.amount_gross,
            amount_fee: record.amount_fee,
            amount_net,
            settlement_date: record.settlement_date,
            payout_id: None,
            payout_date: record.settlement_date,
        })
    }
}

/// The trailer of a card file: what the acquirer says it pays for that file's payout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatedPayout {
    pub file: String,
    pub line: u64,
    pub payout_id: PayoutId,
    pub amount_net: Yen,
}

impl Settlements {
    /// Every line of every file, in file order.
    pub fn lines(&self) -> Result<Vec<SettlementLine>, ReconcileError> {
        let mut lines = Vec::new();
        for file in &self.card {
            lines.extend(file.settlement.records.iter().map(|record| SettlementLine::of_card(&file.name, record)));
        }
        for file in &self.qr {
            lines.extend(file.records.iter().map(|record| SettlementLine::of_qr(&file.name, record)));
        }
        for file in &self.emoney {
            for record in &file.records {
                lines.push(SettlementLine::of_emoney(&file.name, record)?);
            }
        }
        Ok(lines)
    }

    /// The payouts the card files state in their trailers.
    pub fn stated_payouts(&self) -> Vec<StatedPayout> {
        self.card
            .iter()
            .map(|file| StatedPayout {
                file: file.name.clone(),
                line: file.settlement.trailer.line,
                payout_id: file.settlement.trailer.payout_id.clone(),
                amount_net: file.settlement.trailer.amount_net,
            })
            .collect()
    }
}
