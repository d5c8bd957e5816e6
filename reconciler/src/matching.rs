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
//!    payment and is superseded by a later 売上 or 取消 with the same 取引通番 when one is found.
//! 2. **By amount, terminal and time**, for records whose keys found nothing (a payment whose
//!    acquirer answer never arrived has no STAN or RRN): the unclaimed line of the same terminal
//!    (the register, for QR), the same amount, and the nearest time within
//!    [`MATCH_TIME_WINDOW_SECONDS`].
//! 3. **Aggregated lines (many-to-one)**: an unclaimed sale line equal to the sum of a run of
//!    consecutive unmatched payments of its terminal, at most [`AGGREGATED_PAYMENTS_MAX`], all
//!    within the time window of the line.
//!
//! What is still unmatched afterwards is judged: a taken payment or refund missing from every
//! settlement is a **timing difference** until its due date (the business date plus the
//! acquirer's `settlement_lag_days` bank business days) has passed, and only then "missing in
//! settlement"; a settlement line of the day that nothing claims is missing in journal, an
//! unmatched refund, a chargeback, an adjustment, or a duplicate of a matched line. A payment
//! the journal undid must be absent, or cancelled to zero in the settlement.
//!
//! Every settlement line is claimed by at most one group; a record whose keys lead to a line
//! another group already holds raises "claimed twice" instead of taking it.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, FixedOffset, NaiveDate};
use pos_config::{Config, Facility};
use pos_core::{BusinessDate, Method, TerminalId, Yen};

use crate::calendar::BankCalendar;
use crate::error::{self, ReconcileError};
use crate::exceptions::{Exception, ExceptionKind, RecordRef};
use crate::inputs::identifiers::{Rrn, Stan};
use crate::journal::{DayJournal, JournalPayment, JournalRefund, RefundChannel};
use crate::settlements::{LineKind, SettlementLine, Source};

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
    /// The journal's signed amount (refunds negative).
    pub amount_journal: Yen,
    /// The lines' signed gross, not counting superseded 処理未了 lines.
    pub amount_settled: Yen,
}

/// A taken payment or refund not yet in any settlement, before its due date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimingDifference {
    pub record: RecordRef,
    /// Signed: refunds negative.
    pub amount: Yen,
    pub due_on: NaiveDate,
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

/// A journal payment or refund to match.
#[derive(Debug, Clone)]
struct Item<'a> {
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

    /// The line kinds this record may match.
    fn accepts(&self, kind: LineKind) -> bool {
        match self.refund {
            Some(_) => kind.is_refund_like(),
            None if self.payment.is_undone() => {
                matches!(kind, LineKind::Sale | LineKind::OutcomeUnknown | LineKind::Cancel)
            }
            None => matches!(kind, LineKind::Sale | LineKind::OutcomeUnknown),
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
    fn keys_match(&self, line: &SettlementLine) -> bool {
        if Some(line.source) != self.source() || !self.accepts(line.kind) {
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
        match line.source {
            Source::Card => (rrn.is_some() && line.rrn.as_ref() == rrn) || trace_matches(),
            Source::Emoney => trace_matches(),
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
}

fn seconds_apart(left: DateTime<FixedOffset>, right: DateTime<FixedOffset>) -> i64 {
    (left - right).num_seconds().abs()
}

fn line_ref(line: &SettlementLine) -> RecordRef {
    RecordRef::SettlementLine { file: line.file.clone(), line: line.line }
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
    let mut matcher = Matcher {
        context,
        keys: KeyIndex::of(&lines),
        outcome: MatchOutcome {
            claimed_by: vec![None; lines.len()],
            in_scope: lines.iter().map(|line| line.business_date() == context.business_date).collect(),
            lines,
            ..MatchOutcome::default()
        },
    };
    let items = day_items(journal, context.business_date);
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
    matcher.judge_unclaimed_lines(journal);
    Ok(matcher.outcome)
}

/// The day's cashless payments and the refunds made that day through the original method, in
/// time order.
fn day_items(journal: &DayJournal, business_date: BusinessDate) -> Vec<Item<'_>> {
    let mut items = Vec::new();
    for payment in journal.payments.iter().filter(|payment| payment.method != Method::Cash) {
        if payment.business_date == business_date {
            items.push(Item {
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
    items
}

struct Matcher<'c, 'a> {
    context: &'c MatchContext<'a>,
    keys: KeyIndex,
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

impl Matcher<'_, '_> {
    fn line(&self, index: usize) -> &SettlementLine {
        &self.outcome.lines[index]
    }

    fn exception(&mut self, kind: ExceptionKind, records: Vec<RecordRef>, amount_at_stake: Yen, detail: String) {
        self.outcome.exceptions.push(Exception::new(kind, records, amount_at_stake, detail));
    }

    /// Pass 1. Returns whether the record was dealt with (matched, or an exception raised).
    fn match_by_keys(&mut self, item: &Item<'_>) -> Result<bool, ReconcileError> {
        let candidates: Vec<usize> =
            self.keys.candidates(item).into_iter().filter(|&index| item.keys_match(self.line(index))).collect();
        let mut free = Vec::new();
        for index in candidates {
            match self.outcome.claimed_by[index] {
                None => free.push(index),
                Some(group) => {
                    let mut records = vec![item.record.clone(), line_ref(self.line(index))];
                    records.extend(self.outcome.groups[group].journal.iter().cloned());
                    let amount = self.line(index).amount_gross;
                    let detail = format!(
                        "{} carries the keys of {:?}, but another record already matched it",
                        describe_line(self.line(index)),
                        item.record
                    );
                    self.exception(ExceptionKind::ClaimedTwice, records, amount, detail);
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
            let amount_journal = error::sum(run.iter().map(|&position| items[position].amount_signed), "a run")?;
            for &position in &run {
                matched[position] = true;
            }
            let group = self.outcome.groups.len();
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

    /// Claims the lines for the record and raises what the group shows.
    fn settle_group(&mut self, item: &Item<'_>, lines: Vec<usize>, how: MatchHow) -> Result<(), ReconcileError> {
        let group = self.outcome.groups.len();
        for &index in &lines {
            self.outcome.claimed_by[index] = Some(group);
            self.outcome.in_scope[index] = true;
        }
        let unknown: Vec<usize> =
            lines.iter().copied().filter(|&index| self.line(index).kind == LineKind::OutcomeUnknown).collect();
        let decided: Vec<usize> =
            lines.iter().copied().filter(|&index| self.line(index).kind != LineKind::OutcomeUnknown).collect();
        let amount_settled = error::sum(decided.iter().map(|&index| self.line(index).amount_gross), "a group")?;
        let mut records = vec![item.record.clone()];
        records.extend(lines.iter().map(|&index| line_ref(self.line(index))));
        self.outcome.groups.push(MatchGroup {
            how,
            journal: vec![item.record.clone()],
            lines: lines.clone(),
            amount_journal: item.amount_signed,
            amount_settled,
        });
        let payment = item.payment;
        if decided.is_empty() && !unknown.is_empty() {
            let detail = format!(
                "the e-money centre reports 処理未了 for {} ({} in the journal as {})",
                payment.payment_id, payment.amount, payment.state
            );
            self.exception(ExceptionKind::EmoneyOutcomeUnknown, records, item.amount_signed, detail);
            return Ok(());
        }
        if item.refund.is_none() && !payment.is_taken() && !payment.is_undone() {
            let detail = format!(
                "payment {} of {} is {} in the journal; the settlement shows {}",
                payment.payment_id, payment.amount, payment.state, amount_settled
            );
            self.exception(ExceptionKind::PaymentInDoubt, records, amount_settled, detail);
            return Ok(());
        }
        if item.refund.is_none() && payment.is_undone() {
            if amount_settled != Yen::ZERO {
                let detail = format!(
                    "payment {} is {} in the journal, yet the settlement carries {} for it",
                    payment.payment_id, payment.state, amount_settled
                );
                self.exception(ExceptionKind::ReversedButSettled, records, amount_settled, detail);
            }
            return Ok(());
        }
        if amount_settled == item.amount_signed {
            return Ok(());
        }
        let all_repeat_amount =
            decided.len() > 1 && decided.iter().all(|&index| self.line(index).amount_gross == item.amount_signed);
        if all_repeat_amount {
            // The first line is the match; every further copy is a duplicate of its own.
            for &index in &decided[1..] {
                let line = self.line(index);
                let detail = format!("{} repeats the line matched to {:?}", describe_line(line), item.record);
                let (amount, duplicate) = (line.amount_gross, line_ref(line));
                let first = line_ref(self.line(decided[0]));
                self.exception(ExceptionKind::Duplicate, vec![duplicate, first, item.record.clone()], amount, detail);
            }
            if let Some(group) = self.outcome.groups.last_mut() {
                group.amount_settled = item.amount_signed;
            }
            return Ok(());
        }
        let difference = error::subtract(amount_settled, item.amount_signed, "an amount difference")?;
        let detail = format!(
            "{:?} is {} in the journal and {} in the settlement",
            item.record, item.amount_signed, amount_settled
        );
        self.exception(ExceptionKind::AmountMismatch, records, difference, detail);
        Ok(())
    }

    /// A record no line matched.
    fn judge_unmatched(&mut self, item: &Item<'_>) -> Result<(), ReconcileError> {
        let payment = item.payment;
        if item.refund.is_none() && payment.is_undone() {
            return Ok(());
        }
        if item.refund.is_none() && !payment.is_taken() {
            let detail = format!(
                "payment {} of {} is {} in the journal and in no settlement",
                payment.payment_id, payment.amount, payment.state
            );
            self.exception(ExceptionKind::PaymentInDoubt, vec![item.record.clone()], payment.amount, detail);
            return Ok(());
        }
        let (acquirer, _) =
            self.context.config.fee_rate(payment.brand).ok_or(ReconcileError::NoContract(payment.brand))?;
        let due_on = self.context.calendar.due_on(item.time.date_naive(), acquirer.settlement_lag_days)?;
        if self.context.as_of <= due_on {
            self.outcome.timing_differences.push(TimingDifference {
                record: item.record.clone(),
                amount: item.amount_signed,
                due_on,
            });
            return Ok(());
        }
        let detail = format!(
            "{:?} of {} ({}) was due in {}'s settlement by {due_on} and is in none",
            item.record, item.amount_signed, payment.brand, acquirer.name
        );
        self.exception(
            ExceptionKind::MissingInSettlement,
            vec![item.record.clone()],
            item.amount_signed.checked_neg(),
            detail,
        );
        Ok(())
    }

    /// Lines of the day that no record claimed.
    fn judge_unclaimed_lines(&mut self, journal: &DayJournal) {
        for index in 0..self.outcome.lines.len() {
            if self.outcome.claimed_by[index].is_some() || !self.outcome.in_scope[index] {
                continue;
            }
            let line = self.line(index).clone();
            let mut records = vec![line_ref(&line)];
            let original = line
                .original_rrn
                .as_ref()
                .and_then(|original| journal.payments.iter().find(|payment| payment.rrn.as_ref() == Some(original)));
            if let Some(payment) = original {
                records.push(RecordRef::Payment(payment.payment_id.clone()));
            }
            let amount = line.amount_gross;
            let description = describe_line(&line);
            match line.kind {
                LineKind::Chargeback | LineKind::ChargebackReversal => {
                    let detail = format!("{description}: the acquirer charged back {amount}");
                    self.exception(ExceptionKind::Chargeback, records, amount, detail);
                }
                LineKind::Adjustment => {
                    let detail = format!("{description}: an adjustment of {amount}");
                    self.exception(ExceptionKind::SettlementAdjustment, records, amount, detail);
                }
                LineKind::Refund | LineKind::Cancel => {
                    let detail = format!("{description}: a refund of {amount} that no journal refund matches");
                    self.exception(ExceptionKind::UnmatchedRefund, records, amount, detail);
                }
                LineKind::OutcomeUnknown => {
                    if !self.outcome_decided_later(&line) {
                        let detail = format!("{description}: 処理未了 with no journal payment and no later outcome");
                        self.exception(ExceptionKind::EmoneyOutcomeUnknown, records, amount, detail);
                    }
                }
                LineKind::Sale => match self.matched_twin(&line) {
                    Some((twin, group)) => {
                        records.push(line_ref(self.line(twin)));
                        records.extend(self.outcome.groups[group].journal.iter().cloned());
                        let detail = format!("{description} repeats {}", describe_line(self.line(twin)));
                        self.exception(ExceptionKind::Duplicate, records, amount, detail);
                    }
                    None => {
                        let detail = format!("{description}: settled {amount}, but the journal has no such payment");
                        self.exception(ExceptionKind::MissingInJournal, records, amount, detail);
                    }
                },
            }
        }
    }

    /// Whether a 処理未了 line's outcome (売上 or 取消 with the same terminal and 取引通番) is in
    /// the input.
    fn outcome_decided_later(&self, unknown: &SettlementLine) -> bool {
        self.outcome.lines.iter().any(|line| {
            matches!(line.kind, LineKind::Sale | LineKind::Cancel)
                && line.terminal_id == unknown.terminal_id
                && line.stan == unknown.stan
                && line.time >= unknown.time
        })
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

/// A line as treasury would find it: file, line, kind and amount.
pub fn describe_line(line: &SettlementLine) -> String {
    format!("{} line {} ({:?} {} {})", line.file, line.line, line.kind, line.brand, line.amount_gross)
}
