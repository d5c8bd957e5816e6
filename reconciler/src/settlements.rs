//! The settlement files of a day, in memory, and one line type that matching works on.
//!
//! Card, QR and e-money files differ in columns and keys; [`SettlementLine`] keeps what matching
//! needs from any of them (keys, amounts, payout) and where the line came from (file and line),
//! so that exceptions point back at the file. A line's payout is the acquirer's payout id when
//! the file has one (card, QR), otherwise its settlement date (e-money: 精算日).
//!
//! Which lines move money ([`SettlementLine::moves_money`], [`money_lines`]): every line but a
//! 処理未了 (the centre does not know whether the card was charged, and pays nothing for it) and
//! the 取消 that decides a 処理未了 as "not charged". The centre writes that 取消 with the same
//! terminal and 取引通番, the negated amount and fee 0 (PROTOCOLS.md §4.3; the simulator does the
//! same); a 取消 with fee 0 whose terminal and 取引通番 match a 処理未了 at or before it is taken as
//! such a decision, since it undoes a payment that was never made. A later 売上 with the same
//! 取引通番 decides the 処理未了 as charged and moves money like any sale.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, FixedOffset, NaiveDate};
use pos_config::Config;
use pos_core::{Brand, BusinessDate, TerminalId, Yen};

use crate::error::{self, ReconcileError};
use crate::exceptions::RecordRef;
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
    /// Terminal and 取引通番 of an e-money line: what a 処理未了 and the line deciding it share.
    pub fn emoney_trace(&self) -> Option<(&TerminalId, &Stan)> {
        match (self.source, &self.terminal_id, &self.stan) {
            (Source::Emoney, Some(terminal), Some(stan)) => Some((terminal, stan)),
            _ => None,
        }
    }

    /// Whether this line could be the 取消 that decides a 処理未了 (see the module documentation).
    pub fn may_decide_outcome_unknown(&self) -> bool {
        self.source == Source::Emoney && self.kind == LineKind::Cancel && self.amount_fee == Yen::ZERO
    }

    /// Whether the line moves money, given whether it decides a 処理未了 as not charged.
    pub fn moves_money(&self, decides_unknown: bool) -> bool {
        self.kind != LineKind::OutcomeUnknown && !decides_unknown
    }

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

/// For each line of `lines` (one facility's, or all), whether it moves money: not a 処理未了, and
/// not the 取消 that decides one as not charged.
pub fn money_lines(lines: &[SettlementLine]) -> Vec<bool> {
    let mut unknown_since: HashMap<(&TerminalId, &Stan), DateTime<FixedOffset>> = HashMap::new();
    for line in lines.iter().filter(|line| line.kind == LineKind::OutcomeUnknown) {
        if let Some(trace) = line.emoney_trace() {
            let since = unknown_since.entry(trace).or_insert(line.time);
            *since = (*since).min(line.time);
        }
    }
    lines
        .iter()
        .map(|line| {
            let decides = line.may_decide_outcome_unknown()
                && line
                    .emoney_trace()
                    .and_then(|trace| unknown_since.get(&trace))
                    .is_some_and(|since| *since <= line.time);
            line.moves_money(decides)
        })
        .collect()
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

/// A payout, as lines name it: the acquirer's payout id, or its date when it gives none.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PayoutKey {
    pub source: Source,
    pub acquirer: String,
    pub payout_id: Option<PayoutId>,
    pub payout_date: NaiveDate,
}

impl PayoutKey {
    /// The payout of a line: its acquirer by the brand's contract.
    pub fn of(config: &Config, line: &SettlementLine) -> Result<PayoutKey, ReconcileError> {
        let (acquirer, _) = config.fee_rate(line.brand).ok_or(ReconcileError::NoContract(line.brand))?;
        Ok(PayoutKey {
            source: line.source,
            acquirer: acquirer.id.clone(),
            payout_id: line.payout_id.clone(),
            payout_date: line.payout_date,
        })
    }

    /// The payout as a record an exception names.
    pub fn record(&self) -> RecordRef {
        RecordRef::Payout {
            acquirer: self.acquirer.clone(),
            payout: self.payout_id.clone(),
            payout_date: self.payout_date,
        }
    }
}

/// A 取消 with fee 0 of the e-money centre, held back until it is known whether it decides a
/// 処理未了 (then it moves no money) or not.
#[derive(Debug, Clone)]
struct FeeFreeCancel {
    trace: (TerminalId, Stan),
    time: DateTime<FixedOffset>,
    payout: PayoutKey,
    amount_net: Yen,
}

/// What a facility-day needs from the settlement lines of every facility: the whole net of each
/// payout (what its bank credit must be) and each card file's net beside its trailer's stated
/// payout. Built in one pass over the lines, in any order, so that a facility-day can then be
/// reconciled from its own lines alone. It holds one entry per payout and per file, and one per
/// 処理未了 and per fee-free e-money 取消 (rare: the lines that may decide a 処理未了), never a
/// line besides.
#[derive(Debug, Clone, Default)]
pub struct SettlementTotals {
    payout_net: BTreeMap<PayoutKey, Yen>,
    file_net: BTreeMap<String, Yen>,
    stated: Vec<StatedPayout>,
    /// Terminal and 取引通番 of each 処理未了, with its earliest time.
    outcome_unknown: HashMap<(TerminalId, Stan), DateTime<FixedOffset>>,
    fee_free_cancels: Vec<FeeFreeCancel>,
    /// The first brand seen on a line without a contract: a payout cannot be told without one.
    uncontracted: Option<Brand>,
}

impl SettlementTotals {
    pub fn new() -> SettlementTotals {
        SettlementTotals::default()
    }

    /// The totals of the lines of `settlements` (as [`Settlements::lines`] gives them).
    pub fn of(
        settlements: &Settlements,
        lines: &[SettlementLine],
        config: &Config,
    ) -> Result<SettlementTotals, ReconcileError> {
        let mut totals = SettlementTotals::new();
        for line in lines {
            totals.add_line(config, line)?;
        }
        for stated in settlements.stated_payouts() {
            totals.add_stated(stated);
        }
        Ok(totals)
    }

    /// Counts one line of any facility.
    pub fn add_line(&mut self, config: &Config, line: &SettlementLine) -> Result<(), ReconcileError> {
        let file_net = self.file_net.entry(line.file.clone()).or_insert(Yen::ZERO);
        *file_net = error::add(*file_net, line.amount_net, "a file's net")?;
        if line.kind == LineKind::OutcomeUnknown {
            if let Some((terminal, stan)) = line.emoney_trace() {
                let since = self.outcome_unknown.entry((terminal.clone(), stan.clone())).or_insert(line.time);
                *since = (*since).min(line.time);
            }
            return Ok(());
        }
        if config.fee_rate(line.brand).is_none() {
            self.uncontracted.get_or_insert(line.brand);
            return Ok(());
        }
        let payout = PayoutKey::of(config, line)?;
        if line.may_decide_outcome_unknown() {
            if let Some((terminal, stan)) = line.emoney_trace() {
                self.fee_free_cancels.push(FeeFreeCancel {
                    trace: (terminal.clone(), stan.clone()),
                    time: line.time,
                    payout,
                    amount_net: line.amount_net,
                });
                return Ok(());
            }
        }
        let payout_net = self.payout_net.entry(payout).or_insert(Yen::ZERO);
        *payout_net = error::add(*payout_net, line.amount_net, "a payout")?;
        Ok(())
    }

    /// Records a card file's trailer.
    pub fn add_stated(&mut self, stated: StatedPayout) {
        self.stated.push(stated);
    }

    /// Whether a held-back 取消 decides a 処理未了 (and so moves no money).
    fn decides(&self, cancel: &FeeFreeCancel) -> bool {
        self.outcome_unknown.get(&cancel.trace).is_some_and(|since| *since <= cancel.time)
    }

    /// Every payout with its whole net: what its bank credit must be.
    pub fn payouts(&self) -> Result<BTreeMap<PayoutKey, Yen>, ReconcileError> {
        let mut payouts = self.payout_net.clone();
        for cancel in self.fee_free_cancels.iter().filter(|cancel| !self.decides(cancel)) {
            let net = payouts.entry(cancel.payout.clone()).or_insert(Yen::ZERO);
            *net = error::add(*net, cancel.amount_net, "a payout")?;
        }
        Ok(payouts)
    }

    /// The whole net of one payout.
    pub fn payout_net(&self, key: &PayoutKey) -> Result<Yen, ReconcileError> {
        let mut net = self.payout_net.get(key).copied().unwrap_or(Yen::ZERO);
        for cancel in self.fee_free_cancels.iter().filter(|cancel| &cancel.payout == key && !self.decides(cancel)) {
            net = error::add(net, cancel.amount_net, "a payout")?;
        }
        Ok(net)
    }

    /// The card files' trailers, each with its file's net: what the acquirer says it pays
    /// beside what its lines add up to.
    pub fn stated_payouts(&self) -> impl Iterator<Item = (&StatedPayout, Yen)> {
        self.stated.iter().map(|stated| (stated, self.file_net.get(&stated.file).copied().unwrap_or(Yen::ZERO)))
    }

    /// A brand some line carries that no acquirer's contract names.
    pub fn uncontracted(&self) -> Option<Brand> {
        self.uncontracted
    }
}
