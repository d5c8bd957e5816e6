//! The bank statement as treasury reads it after a run: every line with what it is (a payout, a
//! cash deposit, a correction and the line it corrects, a bank charge, or an exception), every
//! payout with its credit, and the city's list of exceptions — the ones no facility-day of the
//! run carries ([`crate::bank`]).

use std::collections::BTreeSet;

use chrono::NaiveDate;
use pos_core::{BusinessDate, FacilityId, Yen};
use serde::{Deserialize, Serialize};

use super::ExceptionsReport;
use crate::bank::{BankReconciliation, Disposition};
use crate::describe;
use crate::error::{self, ReconcileError};
use crate::inputs::bank::Direction;

/// One line of the statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankLineRow {
    pub record_key: String,
    pub file: String,
    /// 照会番号
    pub reference: String,
    pub record_number: u64,
    pub booking_date: NaiveDate,
    /// `credit` (入金) or `debit` (出金).
    pub direction: String,
    /// 取引区分, its code and name.
    pub kind_code: String,
    pub kind_name_ja: String,
    pub amount: Yen,
    /// Positive for a credit, negative for a debit.
    pub amount_signed: Yen,
    pub payer_name: String,
    /// `payout`, `cash_deposit`, `correction`, `corrected`, `charge` or `unmatched`.
    pub disposition: String,
    pub description_ja: String,
    pub description_en: String,
    /// The facility-day it belongs to (a cash deposit, an unmatched credit from its depositor).
    pub facility: Option<FacilityId>,
    pub business_date: Option<BusinessDate>,
    /// The payout it pays, and the acquirer.
    pub payout_key: Option<String>,
    pub acquirer: Option<String>,
}

/// One acquirer payout against the bank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayoutCheckRow {
    pub payout_key: String,
    pub acquirer: String,
    pub acquirer_name: String,
    pub payout_id: Option<String>,
    pub payout_date: NaiveDate,
    pub expected_net: Yen,
    pub credited: Option<Yen>,
    pub bank_line: Option<String>,
    pub due_on: NaiveDate,
    /// `paid`, `different`, `missing`, `due` (not late yet, or past what the statement shows) or
    /// `none_expected` (net ≤ 0).
    pub state: String,
}

/// The statement after a run, and the city's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankReport {
    pub as_of: Option<NaiveDate>,
    pub lines: Vec<BankLineRow>,
    pub payouts: Vec<PayoutCheckRow>,
    pub lines_count: u64,
    pub credits_total: Yen,
    pub debits_total: Yen,
    pub charges_total: Yen,
    /// Lines nothing explains (each an exception, on a facility-day or the city's list).
    pub unmatched_count: u64,
    /// The city's list: exceptions no facility-day of the run carries.
    pub exceptions: ExceptionsReport,
}

impl BankReport {
    /// The report of a run that reconciled `reconciled` facility-days.
    pub fn build(
        bank: &BankReconciliation,
        reconciled: &BTreeSet<(FacilityId, BusinessDate)>,
    ) -> Result<BankReport, ReconcileError> {
        let lines: Vec<BankLineRow> = bank.lines.iter().map(line_row).collect();
        let payouts = bank
            .payouts
            .iter()
            .map(|payout| {
                let credit = payout.credit.map(|index| &bank.lines[index].entry);
                let state = match credit {
                    Some(entry) if entry.amount == payout.expected_net => "paid",
                    Some(_) => "different",
                    None if payout.expected_net <= Yen::ZERO => "none_expected",
                    None if bank.as_of.is_some_and(|as_of| as_of > payout.due_on)
                        && bank.covered_until.is_some_and(|until| until >= payout.due_on) =>
                    {
                        "missing"
                    }
                    None => "due",
                };
                PayoutCheckRow {
                    payout_key: payout.key.record().key(),
                    acquirer: payout.key.acquirer.clone(),
                    acquirer_name: payout.acquirer_name.clone(),
                    payout_id: payout.key.payout_id.as_ref().map(|id| id.as_str().to_string()),
                    payout_date: payout.key.payout_date,
                    expected_net: payout.expected_net,
                    credited: credit.map(|entry| entry.amount),
                    bank_line: credit.map(|entry| describe::bank_label(entry).ja),
                    due_on: payout.due_on,
                    state: state.to_string(),
                }
            })
            .collect();
        let sum_of = |direction: Direction| {
            error::sum(
                lines
                    .iter()
                    .zip(&bank.lines)
                    .filter(|(_, line)| line.entry.direction == direction)
                    .map(|(row, _)| row.amount),
                "bank lines",
            )
        };
        let charges = lines.iter().filter(|row| row.disposition == "charge").map(|row| row.amount);
        Ok(BankReport {
            as_of: bank.as_of,
            lines_count: lines.len() as u64,
            credits_total: sum_of(Direction::Credit)?,
            debits_total: sum_of(Direction::Debit)?,
            charges_total: error::sum(charges, "bank charges")?,
            unmatched_count: lines.iter().filter(|row| row.disposition == "unmatched").count() as u64,
            exceptions: ExceptionsReport::of(&bank.city_exceptions(reconciled))?,
            lines,
            payouts,
        })
    }

    /// Whether the city's list has anything open: a statement whose lines are not all accounted
    /// for cannot close a day.
    pub fn has_exceptions(&self) -> bool {
        self.exceptions.count > 0
    }
}

fn line_row(line: &crate::bank::BankLine) -> BankLineRow {
    let entry = &line.entry;
    let (facility, business_date, payout_key, acquirer) = match &line.disposition {
        Disposition::CashDeposit { facility, business_date } => {
            (Some(facility.clone()), Some(*business_date), None, None)
        }
        Disposition::Unmatched { facility_day: Some((facility, date)) } => {
            (Some(facility.clone()), Some(*date), None, None)
        }
        Disposition::Payout(key) => (None, None, Some(key.record().key()), Some(key.acquirer.clone())),
        _ => (None, None, None, None),
    };
    BankLineRow {
        record_key: line.record().key(),
        file: entry.file.clone(),
        reference: entry.reference.clone(),
        record_number: entry.record_number,
        booking_date: entry.booking_date,
        direction: match entry.direction {
            Direction::Credit => "credit",
            Direction::Debit => "debit",
        }
        .to_string(),
        kind_code: entry.kind.code().to_string(),
        kind_name_ja: entry.kind.name_ja().to_string(),
        amount: entry.amount,
        amount_signed: entry.amount_signed(),
        payer_name: entry.payer_name.trim().to_string(),
        disposition: line.disposition.code().to_string(),
        description_ja: line.description.ja.clone(),
        description_en: line.description.en.clone(),
        facility,
        business_date,
        payout_key,
        acquirer,
    }
}
