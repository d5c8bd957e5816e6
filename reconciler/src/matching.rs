//! Matching a facility's journal for one business date to the settlement lines.
//!
//! The journal's cashless payments and refunds of the day are matched to settlement lines in
//! three passes, each only over what the previous ones left:
//!
//! 1. **By keys.** Card: the RRN, or terminal id + STAN with the two times within
//!    [`KEY_TIME_TOLERANCE_SECONDS`] (which is how "the same date" is checked without splitting
//!    a payment at 23:59:59 from a line stamped 00:00:01). QR: the merchant payment id (the
//!    payment id; a refund's own id for refunds). E-money: terminal id + 取引通番 within the same
//!    tolerance. Every line with the record's keys joins its group, so a payment split by the
//!    acquirer into several lines (**one-to-many**) matches when the lines add up to it; lines
//!    that each repeat the whole amount are duplicates. A 処理未了 line joins the group of its
//!    payment, and so does the later 売上 or 取消 with the same 取引通番 that decides it.
//! 2. **By amount, terminal and time**, for records whose keys found nothing (a payment whose
//!    acquirer answer never arrived has no STAN or RRN): the unclaimed line of the same terminal
//!    (the register, for QR), the same amount, and the nearest time within
//!    [`MATCH_TIME_WINDOW_SECONDS`].
//! 3. **Aggregated lines (many-to-one)**: an unclaimed sale line equal to the sum of a run of
//!    consecutive unmatched payments of its terminal, at most [`AGGREGATED_PAYMENTS_MAX`], all
//!    within the time window of the line.
//!
//! What the journal expects of each record ([`JournalItem::expected`]) is its amount when the
//! money was taken (a refund: its amount back, negative), and nothing when the journal has not
//! taken it (in doubt) or undid it. Each exception's amount is what settled less what the journal
//! expects (the sign rule of [`crate::exceptions`]).
//!
//! **What is due is not late.** A taken payment or refund missing from every settlement is "due
//! on `<date>`" (the business date plus the acquirer's `settlement_lag_days` bank business days)
//! until that date has passed, and only then "missing in settlement". A 処理未了 is due on the
//! centre's deadline for its brand (`outcome_unknown_deadline_business_days`); until then it is
//! listed as due, not as an exception. After it: a 処理未了 still undecided is an exception
//! whose amount is what the journal took (the city did not get it); one decided as 取消 for a
//! payment the journal took is one too; one the journal never took or undid moves nothing.
//! Treasury resolving the payment in the gateway (completed or failed) changes what the journal
//! expects, and with it the exception.
//!
//! A settlement line of the day that nothing claims is missing in journal, an unmatched refund,
//! a chargeback, an adjustment, or a duplicate of a matched line. A payment the journal undid
//! must be absent, or cancelled to zero in the settlement. Every settlement line is claimed by
//! at most one group; a record whose keys lead to a line another group already holds raises
//! "claimed twice" instead of taking it.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, FixedOffset, NaiveDate};
use pos_config::{Config, Facility};
use pos_core::{Brand, BusinessDate, Method, TerminalId, Yen};

use crate::calendar::BankCalendar;
use crate::describe;
use crate::error::{self, ReconcileError};
use crate::exceptions::{Exception, ExceptionKind, RecordRef, Wording};
use crate::inputs::identifiers::{Rrn, Stan};
use crate::journal::{DayJournal, JournalPayment, JournalRefund, RefundChannel};
use crate::settlements::{money_lines, LineKind, SettlementLine, Source};

/// How far apart the journal's and the acquirer's times of one transaction may be when they are
/// matched by terminal and trace number: terminal and host clocks differ, and a trace number
/// repeats after a million transactions, so the time stands in for "the same date".
pub const KEY_TIME_TOLERANCE_SECONDS: i64 = 15 * 60;

/// How far apart in time a record without keys and a line of the same amount and terminal may be.
pub const MATCH_TIME_WINDOW_SECONDS: i64 = 5 * 60;

/// The most payments one aggregated settlement line is searched for; bounds the search.
pub const AGGREGATED_PAYMENTS_MAX: usize = 8;

/// How a match group was formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchHow {
    /// One record, one line, by keys.
    Key,
    /// One record, several lines sharing its keys.
    SplitLines,
    /// One record without usable keys, one line, by amount, terminal and time.
    AmountTerminalTime,
    /// Several payments, one aggregated line.
    Aggregated,
}

/// Journal records and settlement lines that belong together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchGroup {
    pub how: MatchHow,
    pub journal: Vec<RecordRef>,
    /// Indexes into [`MatchOutcome::lines`].
    pub lines: Vec<usize>,
    /// What the journal expects of the records, signed (refunds negative).
    pub amount_journal: Yen,
    /// The gross of the lines that move money (not a 処理未了, nor the 取消 deciding one).
    pub amount_settled: Yen,
}

/// Why something is listed as due rather than as an exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DueReason {
    /// A taken payment or refund not yet in any settlement, before the acquirer's lag is over.
    Settlement,
    /// A 処理未了 the e-money centre may still settle, before its brand's deadline.
    OutcomeUnknown,
}

impl DueReason {
    pub fn code(self) -> &'static str {
        match self {
            DueReason::Settlement => "settlement",
            DueReason::OutcomeUnknown => "outcome_unknown",
        }
    }
}

/// Something not yet settled or decided, before its due date: "due on `<date>`", not an exception.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimingDifference {
    pub record: RecordRef,
    pub reason: DueReason,
    /// Signed: refunds negative. The amount in question (a 処理未了's, a payment in doubt's).
    pub amount: Yen,
    pub due_on: NaiveDate,
    /// What is due, in words.
    pub description: Wording,
}

/// A journal record of the day that reconciliation expects to see settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalItem {
    pub record: RecordRef,
    pub brand: Brand,
    /// What the journal expects: the amount taken (refunds negative), zero when not taken.
    pub expected: Yen,
    /// The group that matched it.
    pub group: Option<usize>,
    /// Listed as due: not yet compared, so not in the day's difference.
    pub pending: bool,
}

/// What matching found for a facility's day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchOutcome {
    /// The facility's settlement lines (all dates in the input).
    pub lines: Vec<SettlementLine>,
    pub groups: Vec<MatchGroup>,
    /// For each line, the group that claimed it.
    pub claimed_by: Vec<Option<usize>>,
    /// Lines of this day's business, claimed or not: the ones whose fees and payouts count.
    pub in_scope: Vec<bool>,
    /// For each line, whether it moves money ([`crate::settlements::money_lines`]).
    pub moves_money: Vec<bool>,
    /// The day's cashless payments and refunds, in time order.
    pub items: Vec<JournalItem>,
    pub timing_differences: Vec<TimingDifference>,
    pub exceptions: Vec<Exception>,
}

/// The fixed facts a day is matched under.
#[derive(Debug, Clone, Copy)]
pub struct MatchContext<'a> {
    pub config: &'a Config,
    pub facility: &'a Facility,
    pub calendar: &'a BankCalendar,
    pub business_date: BusinessDate,
    /// The day the reconciliation is run for: what is due after it is not late yet.
    pub as_of: NaiveDate,
}

impl MatchContext<'_> {
    /// The name of the acquirer that takes `brand`.
    fn acquirer_name(&self, brand: Brand) -> String {
        self.config
            .fee_rate(brand)
            .map_or_else(|| brand.display_name().to_string(), |(acquirer, _)| acquirer.name.clone())
    }

    /// When a taken record of `date` must be in a settlement.
    fn settlement_due(&self, brand: Brand, date: NaiveDate) -> Result<NaiveDate, ReconcileError> {
        let (acquirer, _) = self.config.fee_rate(brand).ok_or(ReconcileError::NoContract(brand))?;
        Ok(self.calendar.due_on(date, acquirer.settlement_lag_days)?)
    }

    /// The centre's deadline for deciding a 処理未了 of `brand` made on `date`. A configuration
    /// built without one (not from a file, which requires it) falls back to the settlement lag.
    fn outcome_unknown_due(&self, brand: Brand, date: NaiveDate) -> Result<NaiveDate, ReconcileError> {
        let (acquirer, fee) = self.config.fee_rate(brand).ok_or(ReconcileError::NoContract(brand))?;
        let days = fee.outcome_unknown_deadline_business_days.unwrap_or(acquirer.settlement_lag_days);
        Ok(self.calendar.due_on(date, days)?)
    }
}

/// A journal payment or refund to match.
#[derive(Debug, Clone)]
struct Item<'a> {
    /// Position in [`MatchOutcome::items`].
    position: usize,
    record: RecordRef,
    payment: &'a JournalPayment,
    refund: Option<&'a JournalRefund>,
    time: DateTime<FixedOffset>,
    amount_signed: Yen,
}

impl Item<'_> {
    fn source(&self) -> Option<Source> {
        match self.payment.method {
            Method::Card => Some(Source::Card),
            Method::Qr => Some(Source::Qr),
            Method::Emoney => Some(Source::Emoney),
            Method::Cash => None,
        }
    }

    /// What the journal expects to be settled for the record.
    fn expected(&self) -> Yen {
        match self.refund {
            Some(_) => self.amount_signed,
            None if self.payment.is_taken() => self.amount_signed,
            None => Yen::ZERO,
        }
    }

    /// A payment neither taken nor undone: still in doubt (or never finished).
    fn in_doubt(&self) -> bool {
        self.refund.is_none() && !self.payment.is_taken() && !self.payment.is_undone()
    }

    /// The line kinds this record may match; `decides_unknown` says the line is a 取消 deciding a
    /// 処理未了 as not charged.
    fn accepts(&self, kind: LineKind, decides_unknown: bool) -> bool {
        match self.refund {
            Some(_) => kind.is_refund_like() && !decides_unknown,
            None if self.payment.is_undone() => {
                matches!(kind, LineKind::Sale | LineKind::OutcomeUnknown | LineKind::Cancel)
            }
            None => matches!(kind, LineKind::Sale | LineKind::OutcomeUnknown) || decides_unknown,
        }
    }

    fn same_terminal(&self, line: &SettlementLine) -> bool {
        match line.source {
            Source::Qr => line.terminal_code.as_deref() == Some(self.payment.register.as_str()),
            Source::Card | Source::Emoney => {
                line.terminal_id.is_some() && line.terminal_id.as_ref() == self.payment.terminal_id.as_ref()
            }
        }
    }

    /// Whether the line carries this record's keys.
    fn keys_match(&self, line: &SettlementLine, decides_unknown: bool) -> bool {
        if Some(line.source) != self.source() || !self.accepts(line.kind, decides_unknown) {
            return false;
        }
        let (stan, rrn) = match self.refund {
            Some(refund) => (refund.stan.as_ref(), refund.rrn.as_ref()),
            None => (self.payment.stan.as_ref(), self.payment.rrn.as_ref()),
        };
        let trace_matches = || {
            stan.is_some()
                && line.stan.as_ref() == stan
                && self.same_terminal(line)
                && seconds_apart(self.time, line.time) <= KEY_TIME_TOLERANCE_SECONDS
        };
        // A 処理未了 is decided on a later date: its deciding line may come days after the tap.
        let decision_matches =
            || decides_unknown && stan.is_some() && line.stan.as_ref() == stan && self.same_terminal(line);
        match line.source {
            Source::Card => (rrn.is_some() && line.rrn.as_ref() == rrn) || trace_matches(),
            Source::Emoney => trace_matches() || decision_matches(),
            Source::Qr => {
                let key = match self.refund {
                    Some(refund) => refund.refund_id.as_str(),
                    None => self.payment.merchant_payment_id(),
                };
                line.merchant_payment_id.as_deref() == Some(key)
            }
        }
    }

    /// Whether an unclaimed line could be this record's, judged without keys.
    fn resembles(&self, line: &SettlementLine) -> bool {
        if self.refund.is_some() {
            return self.resembles_refund(line);
        }
        Some(line.source) == self.source()
            && matches!(line.kind, LineKind::Sale | LineKind::OutcomeUnknown)
            && line.amount_gross == self.amount_signed
            && self.same_terminal(line)
            && seconds_apart(self.time, line.time) <= MATCH_TIME_WINDOW_SECONDS
    }

    fn resembles_refund(&self, line: &SettlementLine) -> bool {
        let original_agrees = match (self.refund.and_then(|refund| refund.original_rrn.as_ref()), &line.original_rrn) {
            (Some(ours), Some(theirs)) => ours == theirs,
            _ => true,
        };
        Some(line.source) == self.source()
            && line.kind.is_refund_like()
            && original_agrees
            && line.amount_gross == self.amount_signed
            && self.same_terminal(line)
            && seconds_apart(self.time, line.time) <= MATCH_TIME_WINDOW_SECONDS
    }

    /// The record as treasury finds it, short and in full.
    fn label(&self) -> Wording {
        match self.refund {
            Some(refund) => describe::refund_label(self.payment, refund),
            None => describe::payment_label(self.payment),
        }
    }

    fn text(&self) -> Wording {
        match self.refund {
            Some(refund) => describe::refund(self.payment, refund),
            None => describe::payment(self.payment),
        }
    }

    fn named(&self) -> (RecordRef, Wording) {
        (self.record.clone(), self.label())
    }
}

fn seconds_apart(left: DateTime<FixedOffset>, right: DateTime<FixedOffset>) -> i64 {
    (left - right).num_seconds().abs()
}

fn line_ref(line: &SettlementLine) -> RecordRef {
    RecordRef::SettlementLine { file: line.file.clone(), line: line.line }
}

fn named_line(line: &SettlementLine) -> (RecordRef, Wording) {
    (line_ref(line), describe::line_label(&line.file, line.line))
}

/// Whether a settlement line belongs to the facility: by merchant id for card and e-money. For
/// QR (the provider's merchant id is the city's), by the register as the provider's terminal, or
/// by the merchant payment id when it names one of the facility's payments or refunds: the
/// gateway does not pass the register to the provider, whose 端末ID is then its own.
fn belongs_to(facility: &Facility, qr_keys: &HashSet<&str>, line: &SettlementLine) -> bool {
    match line.source {
        Source::Card | Source::Emoney => line.merchant == facility.merchant_id,
        Source::Qr => {
            line.terminal_code
                .as_deref()
                .is_some_and(|code| facility.registers.iter().any(|register| register.id.as_str() == code))
                || line.merchant_payment_id.as_deref().is_some_and(|key| qr_keys.contains(key))
        }
    }
}

/// The merchant payment ids the facility's QR payments and refunds were sent under.
fn qr_keys(journal: &DayJournal) -> HashSet<&str> {
    let mut keys = HashSet::new();
    for payment in journal.payments.iter().filter(|payment| payment.method == Method::Qr) {
        keys.insert(payment.merchant_payment_id());
        keys.extend(payment.refunds.iter().map(|refund| refund.refund_id.as_str()));
    }
    keys
}

/// The lines of `all_lines` that belong to the facility whose day `journal` is, in their order.
pub fn facility_lines(facility: &Facility, journal: &DayJournal, all_lines: &[SettlementLine]) -> Vec<SettlementLine> {
    let qr_keys = qr_keys(journal);
    all_lines.iter().filter(|line| belongs_to(facility, &qr_keys, line)).cloned().collect()
}

/// Matches the day's journal of one facility to all the settlement lines given.
pub fn match_day(
    journal: &DayJournal,
    all_lines: &[SettlementLine],
    context: &MatchContext<'_>,
) -> Result<MatchOutcome, ReconcileError> {
    match_facility_lines(journal, facility_lines(context.facility, journal, all_lines), context)
}

/// Matches the day's journal of one facility to the facility's own settlement lines (as
/// [`facility_lines`] picks them: the result depends on their order).
pub fn match_facility_lines(
    journal: &DayJournal,
    lines: Vec<SettlementLine>,
    context: &MatchContext<'_>,
) -> Result<MatchOutcome, ReconcileError> {
    let items = day_items(journal, context.business_date);
    let mut matcher = Matcher {
        context,
        keys: KeyIndex::of(&lines),
        labels: items.iter().map(|item| (item.record.clone(), item.label())).collect(),
        outcome: MatchOutcome {
            claimed_by: vec![None; lines.len()],
            in_scope: lines.iter().map(|line| line.business_date() == context.business_date).collect(),
            moves_money: money_lines(&lines),
            items: items
                .iter()
                .map(|item| JournalItem {
                    record: item.record.clone(),
                    brand: item.payment.brand,
                    expected: item.expected(),
                    group: None,
                    pending: false,
                })
                .collect(),
            lines,
            ..MatchOutcome::default()
        },
    };
    let mut unmatched = Vec::new();
    for item in &items {
        if !matcher.match_by_keys(item)? {
            unmatched.push(item);
        }
    }
    let mut still_unmatched = Vec::new();
    for item in unmatched {
        if !matcher.match_by_resemblance(item)? {
            still_unmatched.push(item);
        }
    }
    let remaining = matcher.match_aggregated(still_unmatched)?;
    for item in remaining {
        matcher.judge_unmatched(item)?;
    }
    matcher.judge_unclaimed_lines(journal)?;
    Ok(matcher.outcome)
}

/// The day's cashless payments and the refunds made that day through the original method, in
/// time order.
fn day_items(journal: &DayJournal, business_date: BusinessDate) -> Vec<Item<'_>> {
    let mut items = Vec::new();
    for payment in journal.payments.iter().filter(|payment| payment.method != Method::Cash) {
        if payment.business_date == business_date {
            items.push(Item {
                position: 0,
                record: RecordRef::Payment(payment.payment_id.clone()),
                payment,
                refund: None,
                time: payment.time,
                amount_signed: payment.amount,
            });
        }
        for refund in &payment.refunds {
            if refund.business_date() == business_date && refund.channel == RefundChannel::Original {
                items.push(Item {
                    position: 0,
                    record: RecordRef::Refund { payment: payment.payment_id.clone(), refund: refund.refund_id.clone() },
                    payment,
                    refund: Some(refund),
                    time: refund.time,
                    amount_signed: refund.amount.checked_neg(),
                });
            }
        }
    }
    items.sort_by_key(|item| item.time);
    for (position, item) in items.iter_mut().enumerate() {
        item.position = position;
    }
    items
}

struct Matcher<'c, 'a> {
    context: &'c MatchContext<'a>,
    keys: KeyIndex,
    /// Each journal record's label, for exceptions that name another group's records.
    labels: HashMap<RecordRef, Wording>,
    outcome: MatchOutcome,
}

/// The lines by each key a record can be matched by, so that pass 1 looks at the few lines
/// that share a key with the record instead of every line of the facility (which made a day of
/// tens of thousands of payments quadratic). It only narrows the search: every candidate is
/// still judged by [`Item::keys_match`].
#[derive(Debug, Default)]
struct KeyIndex {
    by_rrn: HashMap<Rrn, Vec<usize>>,
    by_trace: HashMap<(TerminalId, Stan), Vec<usize>>,
    by_merchant_payment_id: HashMap<String, Vec<usize>>,
}

impl KeyIndex {
    fn of(lines: &[SettlementLine]) -> KeyIndex {
        let mut index = KeyIndex::default();
        for (position, line) in lines.iter().enumerate() {
            if let Some(rrn) = &line.rrn {
                index.by_rrn.entry(rrn.clone()).or_default().push(position);
            }
            if let (Some(terminal), Some(stan)) = (&line.terminal_id, &line.stan) {
                index.by_trace.entry((terminal.clone(), stan.clone())).or_default().push(position);
            }
            if let Some(id) = &line.merchant_payment_id {
                index.by_merchant_payment_id.entry(id.clone()).or_default().push(position);
            }
        }
        index
    }

    /// The lines that share a key with the record, in line order, each once.
    fn candidates(&self, item: &Item<'_>) -> Vec<usize> {
        let (stan, rrn) = match item.refund {
            Some(refund) => (refund.stan.as_ref(), refund.rrn.as_ref()),
            None => (item.payment.stan.as_ref(), item.payment.rrn.as_ref()),
        };
        let merchant_payment_id = match item.refund {
            Some(refund) => refund.refund_id.as_str(),
            None => item.payment.merchant_payment_id(),
        };
        let mut found: Vec<usize> = Vec::new();
        if let Some(lines) = rrn.and_then(|rrn| self.by_rrn.get(rrn)) {
            found.extend(lines);
        }
        if let (Some(terminal), Some(stan)) = (&item.payment.terminal_id, stan) {
            if let Some(lines) = self.by_trace.get(&(terminal.clone(), stan.clone())) {
                found.extend(lines);
            }
        }
        if let Some(lines) = self.by_merchant_payment_id.get(merchant_payment_id) {
            found.extend(lines);
        }
        found.sort_unstable();
        found.dedup();
        found
    }
}

/// How the lines of a group decide a 処理未了 among them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    /// No 処理未了 in the group, or one a 売上 decided as charged: judged on the money.
    Settled,
    /// A 処理未了 a 取消 decided as not charged.
    NotCharged,
    /// A 処理未了 nothing has decided yet.
    Undecided,
}

impl Matcher<'_, '_> {
    fn line(&self, index: usize) -> &SettlementLine {
        &self.outcome.lines[index]
    }

    /// Whether a line is the 取消 deciding a 処理未了.
    fn decides_unknown(&self, index: usize) -> bool {
        self.line(index).kind == LineKind::Cancel && !self.outcome.moves_money[index]
    }

    fn exception(&mut self, kind: ExceptionKind, records: Vec<(RecordRef, Wording)>, amount: Yen, detail: Wording) {
        self.outcome.exceptions.push(Exception::new(kind, records, amount, detail));
    }

    fn due(&mut self, record: RecordRef, reason: DueReason, amount: Yen, due_on: NaiveDate, what: Wording) {
        let description = match reason {
            DueReason::Settlement => Wording::new(
                format!("{} — 精算予定日 {due_on}", what.ja),
                format!("{} — due in the settlement by {due_on}", what.en),
            ),
            DueReason::OutcomeUnknown => Wording::new(
                format!("{} — センターの処理未了、確定期限 {due_on}", what.ja),
                format!("{} — the centre's 処理未了, to be decided by {due_on}", what.en),
            ),
        };
        self.outcome.timing_differences.push(TimingDifference { record, reason, amount, due_on, description });
    }

    /// Pass 1. Returns whether the record was dealt with (matched, or an exception raised).
    fn match_by_keys(&mut self, item: &Item<'_>) -> Result<bool, ReconcileError> {
        let candidates: Vec<usize> = self
            .keys
            .candidates(item)
            .into_iter()
            .filter(|&index| item.keys_match(self.line(index), self.decides_unknown(index)))
            .collect();
        let mut free = Vec::new();
        for index in candidates {
            match self.outcome.claimed_by[index] {
                None => free.push(index),
                Some(group) => {
                    self.claimed_twice(item, index, group);
                    return Ok(true);
                }
            }
        }
        if free.is_empty() {
            return Ok(false);
        }
        let how = if free.len() > 1 { MatchHow::SplitLines } else { MatchHow::Key };
        self.settle_group(item, free, how)?;
        Ok(true)
    }

    /// A record whose keys lead to a line another group holds: the journal has two records for
    /// one settled transaction, so the second is in no settlement.
    fn claimed_twice(&mut self, item: &Item<'_>, index: usize, group: usize) {
        let line = self.line(index).clone();
        let mut records = vec![item.named(), named_line(&line)];
        let first: Vec<RecordRef> = self.outcome.groups[group].journal.clone();
        records.extend(first.iter().map(|record| (record.clone(), self.label_of(record))));
        let first_text = first.first().map(|record| self.label_of(record)).unwrap_or_default();
        let text = item.text();
        let line_text = describe::line(&line);
        let amount = item.expected().checked_neg();
        let detail = Wording::new(
            format!(
                "{} の鍵を持つ {} は、既に {} と照合済みです。この取引に対応する精算はなく、{} が入金されません。",
                text.ja,
                line_text.ja,
                first_text.ja,
                describe::yen_ja(item.expected())
            ),
            format!(
                "{} carries the keys of {}, which already matched {}; nothing settles this record, so {} will not be paid.",
                line_text.en,
                text.en,
                first_text.en,
                describe::yen_en(item.expected())
            ),
        );
        self.exception(ExceptionKind::ClaimedTwice, records, amount, detail);
    }

    /// A journal record's label, from the record alone (for records of another group).
    fn label_of(&self, record: &RecordRef) -> Wording {
        if let Some(label) = self.labels.get(record) {
            return label.clone();
        }
        match record {
            RecordRef::Payment(id) | RecordRef::Refund { payment: id, .. } => {
                Wording::new(format!("決済 {id}"), format!("payment {id}"))
            }
            RecordRef::SettlementLine { file, line } => describe::line_label(file, *line),
            other => Wording::new(other.key(), other.key()),
        }
    }

    /// Pass 2: the nearest unclaimed line of the same terminal and amount.
    fn match_by_resemblance(&mut self, item: &Item<'_>) -> Result<bool, ReconcileError> {
        if item.payment.is_undone() && item.refund.is_none() {
            // Without keys, a line that merely resembles an undone payment is not evidence that
            // the payment was settled; it is judged as a line of its own.
            return Ok(false);
        }
        let nearest = (0..self.outcome.lines.len())
            .filter(|&index| self.outcome.claimed_by[index].is_none() && item.resembles(self.line(index)))
            .min_by_key(|&index| (seconds_apart(item.time, self.line(index).time), index));
        match nearest {
            Some(index) => {
                self.settle_group(item, vec![index], MatchHow::AmountTerminalTime)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Pass 3: one unclaimed sale line for a run of consecutive unmatched taken payments.
    fn match_aggregated<'i>(&mut self, items: Vec<&'i Item<'i>>) -> Result<Vec<&'i Item<'i>>, ReconcileError> {
        let mut matched = vec![false; items.len()];
        for index in 0..self.outcome.lines.len() {
            let line = self.line(index);
            if self.outcome.claimed_by[index].is_some() || line.kind != LineKind::Sale || !self.outcome.in_scope[index]
            {
                continue;
            }
            let fits: Vec<usize> = (0..items.len())
                .filter(|&position| {
                    let item = items[position];
                    !matched[position]
                        && item.refund.is_none()
                        && item.payment.is_taken()
                        && Some(line.source) == item.source()
                        && item.same_terminal(line)
                        && seconds_apart(item.time, line.time) <= MATCH_TIME_WINDOW_SECONDS
                })
                .collect();
            let Some(run) =
                consecutive_run_summing_to(&fits, |position| items[position].amount_signed, line.amount_gross)?
            else {
                continue;
            };
            let records: Vec<RecordRef> = run.iter().map(|&position| items[position].record.clone()).collect();
            let amount_journal = error::sum(run.iter().map(|&position| items[position].expected()), "a run")?;
            let group = self.outcome.groups.len();
            for &position in &run {
                matched[position] = true;
                self.outcome.items[items[position].position].group = Some(group);
            }
            self.outcome.claimed_by[index] = Some(group);
            let amount_settled = self.line(index).amount_gross;
            self.outcome.groups.push(MatchGroup {
                how: MatchHow::Aggregated,
                journal: records,
                lines: vec![index],
                amount_journal,
                amount_settled,
            });
        }
        Ok(items.into_iter().zip(matched).filter(|(_, matched)| !matched).map(|(item, _)| item).collect())
    }

    /// How a group's lines decide a 処理未了 among them.
    fn decision(&self, lines: &[usize]) -> Decision {
        let unknown = lines.iter().any(|&index| self.line(index).kind == LineKind::OutcomeUnknown);
        if !unknown {
            return Decision::Settled;
        }
        let sale =
            lines.iter().any(|&index| self.line(index).kind == LineKind::Sale && self.outcome.moves_money[index]);
        if sale {
            Decision::Settled
        } else if lines.iter().any(|&index| self.decides_unknown(index)) {
            Decision::NotCharged
        } else {
            Decision::Undecided
        }
    }

    /// Claims the lines for the record and raises what the group shows.
    fn settle_group(&mut self, item: &Item<'_>, lines: Vec<usize>, how: MatchHow) -> Result<(), ReconcileError> {
        let group = self.outcome.groups.len();
        for &index in &lines {
            self.outcome.claimed_by[index] = Some(group);
            self.outcome.in_scope[index] = true;
        }
        self.outcome.items[item.position].group = Some(group);
        let money: Vec<usize> = lines.iter().copied().filter(|&index| self.outcome.moves_money[index]).collect();
        let amount_settled = error::sum(money.iter().map(|&index| self.line(index).amount_gross), "a group")?;
        let expected = item.expected();
        self.outcome.groups.push(MatchGroup {
            how,
            journal: vec![item.record.clone()],
            lines: lines.clone(),
            amount_journal: expected,
            amount_settled,
        });
        let mut records = vec![item.named()];
        records.extend(lines.iter().map(|&index| named_line(self.line(index))));
        match self.decision(&lines) {
            Decision::Undecided => return self.undecided(item, &lines, records),
            Decision::NotCharged => {
                self.not_charged(item, records);
                return Ok(());
            }
            Decision::Settled => {}
        }
        let text = item.text();
        let settled_ja = describe::yen_ja(amount_settled);
        let settled_en = describe::yen_en(amount_settled);
        if item.in_doubt() {
            let state = describe::state(item.payment.state);
            let detail = Wording::new(
                format!(
                    "{} はゲートウェイでは「{}」のままですが、精算には {settled_ja} が計上されています。",
                    text.ja, state.ja
                ),
                format!("{} is still {} in the gateway, yet the settlement carries {settled_en}.", text.en, state.en),
            );
            self.exception(ExceptionKind::PaymentInDoubt, records, amount_settled, detail);
            return Ok(());
        }
        if item.refund.is_none() && item.payment.is_undone() {
            if amount_settled != Yen::ZERO {
                let state = describe::state(item.payment.state);
                let detail = Wording::new(
                    format!("{} は「{}」ですが、精算に {settled_ja} が計上されています。", text.ja, state.ja),
                    format!("{} was {}, yet the settlement carries {settled_en}.", text.en, state.en),
                );
                self.exception(ExceptionKind::ReversedButSettled, records, amount_settled, detail);
            }
            return Ok(());
        }
        if amount_settled == expected {
            return Ok(());
        }
        let all_repeat_amount = money.len() > 1 && money.iter().all(|&index| self.line(index).amount_gross == expected);
        if all_repeat_amount {
            // The first line is the match; every further copy is a duplicate of its own.
            let first = self.line(money[0]).clone();
            for &index in &money[1..] {
                let line = self.line(index).clone();
                let (copy, original) = (describe::line(&line), describe::line_label(&first.file, first.line));
                let detail = Wording::new(
                    format!("{} は、{} と照合済みの {} と同じ取引の重複です。", copy.ja, text.ja, original.ja),
                    format!("{} repeats {}, already matched to {}.", copy.en, original.en, text.en),
                );
                let records = vec![named_line(&line), named_line(&first), item.named()];
                self.exception(ExceptionKind::Duplicate, records, line.amount_gross, detail);
            }
            if let Some(group) = self.outcome.groups.last_mut() {
                group.amount_settled = expected;
            }
            return Ok(());
        }
        let difference = error::subtract(amount_settled, expected, "an amount difference")?;
        let lines_ja: Vec<String> = money.iter().map(|&index| describe::line(self.line(index)).ja).collect();
        let lines_en: Vec<String> = money.iter().map(|&index| describe::line(self.line(index)).en).collect();
        let detail = Wording::new(
            format!(
                "{} に対し、精算は {settled_ja}（{}）で、差額は {} です。",
                text.ja,
                lines_ja.join("、"),
                describe::signed_yen_ja(difference)
            ),
            format!(
                "{} settled as {settled_en} ({}): a difference of {}.",
                text.en,
                lines_en.join("; "),
                describe::signed_yen_en(difference)
            ),
        );
        self.exception(ExceptionKind::AmountMismatch, records, difference, detail);
        Ok(())
    }

    /// A 処理未了 nothing has decided: due until the brand's deadline, then an exception of what
    /// the journal took.
    fn undecided(
        &mut self,
        item: &Item<'_>,
        lines: &[usize],
        records: Vec<(RecordRef, Wording)>,
    ) -> Result<(), ReconcileError> {
        let tapped = lines
            .iter()
            .map(|&index| self.line(index))
            .filter(|line| line.kind == LineKind::OutcomeUnknown)
            .map(|line| line.time.date_naive())
            .min()
            .unwrap_or(item.time.date_naive());
        let due_on = self.context.outcome_unknown_due(item.payment.brand, tapped)?;
        let text = item.text();
        if self.context.as_of <= due_on {
            self.outcome.items[item.position].pending = true;
            self.due(item.record.clone(), DueReason::OutcomeUnknown, item.amount_signed, due_on, text);
            return Ok(());
        }
        if item.payment.is_undone() {
            // The journal undid it and the centre never charged it: nothing moved on either side.
            return Ok(());
        }
        let state = describe::state(item.payment.state);
        let expected = item.expected();
        let detail = Wording::new(
            format!(
                "{} は、電子マネーセンターの処理未了のまま確定期限 {due_on} を過ぎました（ゲートウェイでは「{}」）。{} が入金されていません。",
                text.ja,
                state.ja,
                describe::yen_ja(expected)
            ),
            format!(
                "{} is still 処理未了 at the e-money centre past its deadline of {due_on} ({} in the gateway); {} has not been paid.",
                text.en,
                state.en,
                describe::yen_en(expected)
            ),
        );
        self.exception(ExceptionKind::EmoneyOutcomeUnknown, records, expected.checked_neg(), detail);
        Ok(())
    }

    /// A 処理未了 the centre decided as 取消: the city got nothing for it.
    fn not_charged(&mut self, item: &Item<'_>, records: Vec<(RecordRef, Wording)>) {
        let text = item.text();
        let state = describe::state(item.payment.state);
        if item.payment.is_taken() {
            let detail = Wording::new(
                format!(
                    "{} は、電子マネーセンターが処理未了を取消として確定しました（ゲートウェイでは「{}」）。{} は入金されません。",
                    text.ja,
                    state.ja,
                    describe::yen_ja(item.expected())
                ),
                format!(
                    "The e-money centre decided {} as 取消 (not charged), though the gateway has it {}; {} will not be paid.",
                    text.en,
                    state.en,
                    describe::yen_en(item.expected())
                ),
            );
            self.exception(ExceptionKind::EmoneyOutcomeUnknown, records, item.expected().checked_neg(), detail);
        } else if item.in_doubt() {
            let detail = Wording::new(
                format!(
                    "{} は、電子マネーセンターが処理未了を取消として確定しました。ゲートウェイでは「{}」のままです。失敗として確定してください。",
                    text.ja, state.ja
                ),
                format!(
                    "The e-money centre decided {} as 取消 (not charged); the gateway still has it {}: resolve it as failed.",
                    text.en, state.en
                ),
            );
            self.exception(ExceptionKind::PaymentInDoubt, records, Yen::ZERO, detail);
        }
    }

    /// A record no line matched.
    fn judge_unmatched(&mut self, item: &Item<'_>) -> Result<(), ReconcileError> {
        let payment = item.payment;
        if item.refund.is_none() && payment.is_undone() {
            return Ok(());
        }
        let due_on = self.context.settlement_due(payment.brand, item.time.date_naive())?;
        let text = item.text();
        if self.context.as_of <= due_on {
            self.outcome.items[item.position].pending = true;
            self.due(item.record.clone(), DueReason::Settlement, item.amount_signed, due_on, text);
            return Ok(());
        }
        let acquirer = self.context.acquirer_name(payment.brand);
        if item.in_doubt() {
            let state = describe::state(payment.state);
            let detail = Wording::new(
                format!(
                    "{} はゲートウェイでは「{}」のままで、{acquirer} の精算にも {due_on} までに計上されていません。",
                    text.ja, state.ja
                ),
                format!(
                    "{} is still {} in the gateway and in no settlement of {acquirer} by {due_on}.",
                    text.en, state.en
                ),
            );
            self.exception(ExceptionKind::PaymentInDoubt, vec![item.named()], Yen::ZERO, detail);
            return Ok(());
        }
        let detail = Wording::new(
            format!("{} が、{acquirer} の精算に {due_on} までに計上されていません。", text.ja),
            format!("{} was due in {acquirer}'s settlement by {due_on} and is in none.", text.en),
        );
        self.exception(ExceptionKind::MissingInSettlement, vec![item.named()], item.expected().checked_neg(), detail);
        Ok(())
    }

    /// Lines of the day that no record claimed.
    fn judge_unclaimed_lines(&mut self, journal: &DayJournal) -> Result<(), ReconcileError> {
        for index in 0..self.outcome.lines.len() {
            if self.outcome.claimed_by[index].is_some() || !self.outcome.in_scope[index] {
                continue;
            }
            let line = self.line(index).clone();
            let mut records = vec![named_line(&line)];
            let original = line
                .original_rrn
                .as_ref()
                .and_then(|original| journal.payments.iter().find(|payment| payment.rrn.as_ref() == Some(original)));
            if let Some(payment) = original {
                records.push((RecordRef::Payment(payment.payment_id.clone()), describe::payment_label(payment)));
            }
            let text = describe::line(&line);
            let gross_en = describe::yen_en(line.amount_gross);
            match line.kind {
                LineKind::Chargeback | LineKind::ChargebackReversal | LineKind::Adjustment => {
                    // Nothing in the journal compares with these, fee and all: their whole net
                    // is the city's difference.
                    let kind = if line.kind == LineKind::Adjustment {
                        ExceptionKind::SettlementAdjustment
                    } else {
                        ExceptionKind::Chargeback
                    };
                    let of_ja = original.map(|payment| format!("（元の決済: {}）", describe::payment(payment).ja));
                    let of_en = original.map(|payment| format!(" (of {})", describe::payment(payment).en));
                    let detail = Wording::new(
                        format!(
                            "{}{} により、入金が {} 変わります。",
                            text.ja,
                            of_ja.unwrap_or_default(),
                            describe::signed_yen_ja(line.amount_net)
                        ),
                        format!(
                            "{}{} changes the payout by {}.",
                            text.en,
                            of_en.unwrap_or_default(),
                            describe::signed_yen_en(line.amount_net)
                        ),
                    );
                    self.exception(kind, records, line.amount_net, detail);
                }
                LineKind::Refund | LineKind::Cancel => {
                    if self.decides_unknown(index) {
                        // It decides a 処理未了 as not charged: nothing moved.
                        continue;
                    }
                    let detail = Wording::new(
                        format!("{} に対応する返金がゲートウェイにありません。", text.ja),
                        format!("{}: a refund of {gross_en} that no refund in the gateway matches.", text.en),
                    );
                    self.exception(ExceptionKind::UnmatchedRefund, records, line.amount_gross, detail);
                }
                LineKind::OutcomeUnknown => self.unclaimed_outcome_unknown(index, records)?,
                LineKind::Sale => match self.matched_twin(&line) {
                    Some((twin, group)) => {
                        let twin_line = self.line(twin).clone();
                        records.push(named_line(&twin_line));
                        let journal_records = self.outcome.groups[group].journal.clone();
                        records.extend(journal_records.iter().map(|record| (record.clone(), self.label_of(record))));
                        let original = describe::line_label(&twin_line.file, twin_line.line);
                        let detail = Wording::new(
                            format!("{} は、照合済みの {} と同じ取引の重複です。", text.ja, original.ja),
                            format!("{} repeats {}, which is already matched.", text.en, original.en),
                        );
                        self.exception(ExceptionKind::Duplicate, records, line.amount_gross, detail);
                    }
                    None => {
                        let detail = Wording::new(
                            format!("{} に対応する決済がゲートウェイの記録にありません。", text.ja),
                            format!("{} settled {gross_en}, but the gateway's journal has no such payment.", text.en),
                        );
                        self.exception(ExceptionKind::MissingInJournal, records, line.amount_gross, detail);
                    }
                },
            }
        }
        Ok(())
    }

    /// A 処理未了 of no journal payment: due until its deadline; after it, listed for a query to
    /// the centre, with nothing at stake (the journal took nothing). A 売上 deciding it is judged
    /// as a line of its own; a 取消 deciding it leaves nothing to judge.
    fn unclaimed_outcome_unknown(
        &mut self,
        index: usize,
        records: Vec<(RecordRef, Wording)>,
    ) -> Result<(), ReconcileError> {
        let line = self.line(index).clone();
        let decided = self.outcome.lines.iter().enumerate().any(|(other, candidate)| {
            candidate.emoney_trace().is_some()
                && candidate.emoney_trace() == line.emoney_trace()
                && candidate.time >= line.time
                && ((candidate.kind == LineKind::Sale && self.outcome.moves_money[other])
                    || self.decides_unknown(other))
        });
        if decided {
            return Ok(());
        }
        let due_on = self.context.outcome_unknown_due(line.brand, line.time.date_naive())?;
        let text = describe::line(&line);
        if self.context.as_of <= due_on {
            self.due(line_ref(&line), DueReason::OutcomeUnknown, line.amount_gross, due_on, text);
            return Ok(());
        }
        let detail = Wording::new(
            format!(
                "{} は確定期限 {due_on} を過ぎても処理未了のままで、ゲートウェイに対応する決済がありません。",
                text.ja
            ),
            format!(
                "{} is still 処理未了 past its deadline of {due_on}, and the gateway has no such payment.",
                text.en
            ),
        );
        self.exception(ExceptionKind::EmoneyOutcomeUnknown, records, Yen::ZERO, detail);
        Ok(())
    }

    /// A claimed line with the same keys and amount as an unclaimed one, and its group.
    fn matched_twin(&self, line: &SettlementLine) -> Option<(usize, usize)> {
        (0..self.outcome.lines.len()).find_map(|index| {
            let other = self.line(index);
            let same_keys = match line.source {
                Source::Card => {
                    other.rrn == line.rrn || (other.terminal_id == line.terminal_id && other.stan == line.stan)
                }
                Source::Emoney => other.terminal_id == line.terminal_id && other.stan == line.stan,
                Source::Qr => other.merchant_payment_id == line.merchant_payment_id,
            };
            let twin = other.source == line.source
                && other.kind == line.kind
                && other.amount_gross == line.amount_gross
                && same_keys;
            match self.outcome.claimed_by[index] {
                Some(group) if twin => Some((index, group)),
                _ => None,
            }
        })
    }
}

/// A run of consecutive entries of `positions` whose amounts sum to `target`, of two to
/// [`AGGREGATED_PAYMENTS_MAX`] entries.
fn consecutive_run_summing_to(
    positions: &[usize],
    amount: impl Fn(usize) -> Yen,
    target: Yen,
) -> Result<Option<Vec<usize>>, ReconcileError> {
    for start in 0..positions.len() {
        let mut total = Yen::ZERO;
        for end in start..positions.len().min(start + AGGREGATED_PAYMENTS_MAX) {
            total = error::add(total, amount(positions[end]), "an aggregated run")?;
            if end > start && total == target {
                return Ok(Some(positions[start..=end].to_vec()));
            }
        }
    }
    Ok(None)
}
