//! What each taken payment paid for: the sale lines it covered and its share of each, with its
//! share of the contracted fee — the finest grain the analysts' export, the open data's fee item
//! categories and the monthly report's fees per item are added up from.
//!
//! A sale's lines are paid, in order, by its taken payments, in the order they were made — the
//! split `top-fee-items` uses (and the reconciler's daily report) — so a sale paid by one
//! payment gives each line whole to it, and a sale split between cash and a card puts its first
//! lines on the first payment. The rows are streamed sale by sale (`ORDER BY` sale), so memory
//! stays bounded by one sale whatever the range.
//!
//! A payment's fee is its contract on its own amount, rounded as contracted (as `fees-by-brand`
//! charges it); it is shared out over the lines it paid in proportion to amount, each share
//! truncated to whole yen and the yen left over put on its first line, so the shares of a
//! payment add up to its fee exactly. Cash costs no fee; a brand without a contract has none
//! known (`None`).

use chrono::{DateTime, FixedOffset};
use futures::TryStreamExt;
use pos_config::Config;
use pos_core::{FeeItemCode, Method, MoneyError, Yen};
use sqlx::Row;

use super::facts::{decode_payment, FactFilter, PaymentFact};
use super::AnalyticsError;
use crate::journal::columns::{parse_column, yen_column};
use crate::journal::{Journal, JournalError};

/// One line of a sale as the journal keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleLine {
    pub fee_item: FeeItemCode,
    pub name_ja: String,
    /// 歳入科目, as booked when the line was sold.
    pub revenue_account: String,
    pub amount: Yen,
}

/// The share of one sale line that one taken payment paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaidPart<'a> {
    pub payment: &'a PaymentFact,
    pub line: &'a SaleLine,
    pub amount: Yen,
    /// This part's share of the payment's contracted fee; `None` when its brand has no contract.
    pub fee: Option<Yen>,
}

impl PaidPart<'_> {
    pub fn time(&self) -> DateTime<FixedOffset> {
        self.payment.time
    }
}

/// The contracted fee on one payment: nothing on cash, `None` for a brand with no contract.
pub fn payment_fee(config: &Config, payment: &PaymentFact) -> Result<Option<Yen>, MoneyError> {
    if payment.method == Method::Cash {
        return Ok(Some(Yen::ZERO));
    }
    match config.fee_rate(payment.brand) {
        Some((_, contract)) => contract.rate.fee(payment.amount, contract.rounding).map(Some),
        None => Ok(None),
    }
}

fn money(what: &'static str) -> impl Fn(MoneyError) -> AnalyticsError {
    move |source| AnalyticsError::Money { what, source }
}

/// Splits one sale's lines over its payments and hands every part of a payment of `method`
/// (every method when `None`) to `each`.
fn split_sale(
    config: &Config,
    payments: &[PaymentFact],
    lines: &[SaleLine],
    method: Option<Method>,
    each: &mut impl FnMut(PaidPart<'_>) -> Result<(), AnalyticsError>,
) -> Result<(), AnalyticsError> {
    let mut line_left: Vec<Yen> = lines.iter().map(|line| line.amount).collect();
    let mut next_line = 0;
    for payment in payments {
        let mut tender_left = payment.amount;
        let mut parts: Vec<(usize, Yen)> = Vec::new();
        while tender_left > Yen::ZERO && next_line < lines.len() {
            let part = line_left[next_line].min(tender_left);
            if part > Yen::ZERO {
                parts.push((next_line, part));
            }
            tender_left = tender_left.checked_sub(part).map_err(money("a tender"))?;
            line_left[next_line] = line_left[next_line].checked_sub(part).map_err(money("a sale line"))?;
            if line_left[next_line] <= Yen::ZERO {
                next_line += 1;
            }
        }
        if method.is_some_and(|wanted| wanted != payment.method) {
            continue;
        }
        let fee = payment_fee(config, payment).map_err(money("a contracted fee"))?;
        let shares = share_fee(fee, payment.amount, &parts)?;
        for ((index, amount), fee) in parts.iter().zip(shares) {
            each(PaidPart { payment, line: &lines[*index], amount: *amount, fee })?;
        }
    }
    Ok(())
}

/// A payment's fee shared over its parts in proportion to amount, truncated, the remainder on
/// the first part.
fn share_fee(fee: Option<Yen>, paid: Yen, parts: &[(usize, Yen)]) -> Result<Vec<Option<Yen>>, AnalyticsError> {
    let Some(fee) = fee else { return Ok(vec![None; parts.len()]) };
    if paid <= Yen::ZERO {
        return Ok(vec![Some(Yen::ZERO); parts.len()]);
    }
    let mut shares: Vec<Yen> = Vec::with_capacity(parts.len());
    for (_, amount) in parts {
        // i128 cannot overflow here: both factors are i64.
        let share = i128::from(fee.get()) * i128::from(amount.get()) / i128::from(paid.get());
        let share = i64::try_from(share).map_err(|_| money("a fee share")(MoneyError::Overflow("fee share")))?;
        shares.push(Yen::new(share).map_err(money("a fee share"))?);
    }
    let given = shares.iter().try_fold(Yen::ZERO, |sum, share| sum.checked_add(*share)).map_err(money("fee shares"))?;
    if let Some(first) = shares.first_mut() {
        *first = first.checked_add(fee.checked_sub(given).map_err(money("a fee"))?).map_err(money("a fee"))?;
    }
    Ok(shares.into_iter().map(Some).collect())
}

/// Streams every part paid by the taken payments of `filter` (its method filter applies to the
/// parts handed out; the split itself sees every taken payment of the sale).
pub async fn for_each_part(
    journal: &Journal,
    config: &Config,
    filter: &FactFilter<'_>,
    mut each: impl FnMut(PaidPart<'_>) -> Result<(), AnalyticsError>,
) -> Result<(), AnalyticsError> {
    if filter.matches_nothing() {
        return Ok(());
    }
    let (conditions, binds) = filter.payment_conditions(false);
    let sql = format!(
        "SELECT p.id, p.sale_id, p.facility_id, p.method, p.brand, p.amount, p.business_date, p.created_at, \
         l.line_no, l.fee_item, l.name_ja, l.revenue_account, l.amount AS line_amount \
         FROM payments p JOIN sale_lines l ON l.sale_id = p.sale_id WHERE {conditions} \
         ORDER BY p.sale_id, p.created_at, p.id, l.line_no"
    );
    let mut conn = journal.read().await?;
    let mut query = sqlx::query(&sql);
    for bind in binds {
        query = query.bind(bind);
    }
    let mut rows = query.fetch(&mut *conn);
    let mut payments: Vec<PaymentFact> = Vec::new();
    let mut lines: Vec<SaleLine> = Vec::new();
    while let Some(row) = rows.try_next().await.map_err(JournalError::from)? {
        let payment = decode_payment(&row)?;
        if payments.last().is_some_and(|last| last.sale_id != payment.sale_id) {
            split_sale(config, &payments, &lines, filter.method, &mut each)?;
            payments.clear();
            lines.clear();
        }
        if payments.last().is_none_or(|last| last.id != payment.id) {
            payments.push(payment.clone());
        }
        // Every payment of a sale brings the same lines; the first payment's are kept.
        if payments.len() == 1 {
            let sale = payment.sale_id.as_str();
            lines.push(SaleLine {
                fee_item: parse_column(
                    "sale_lines",
                    "fee_item",
                    sale,
                    &row.try_get::<String, _>("fee_item").map_err(JournalError::from)?,
                )?,
                name_ja: row.try_get("name_ja").map_err(JournalError::from)?,
                revenue_account: row.try_get("revenue_account").map_err(JournalError::from)?,
                amount: yen_column(
                    "sale_lines",
                    "amount",
                    sale,
                    row.try_get("line_amount").map_err(JournalError::from)?,
                )?,
            });
        }
    }
    if !payments.is_empty() {
        split_sale(config, &payments, &lines, filter.method, &mut each)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yen(amount: i64) -> Yen {
        Yen::new(amount).expect("yen")
    }

    #[test]
    fn a_fee_is_shared_by_amount_and_adds_up_exactly() {
        let parts = [(0, yen(300)), (1, yen(450)), (2, yen(450))];
        let shares = share_fee(Some(yen(38)), yen(1200), &parts).expect("shares");
        // 38 × 300/1200 = 9.5 → 9; 38 × 450/1200 = 14.25 → 14 twice; 38 − 37 = 1 more on the first.
        assert_eq!(shares, vec![Some(yen(10)), Some(yen(14)), Some(yen(14))]);
        assert_eq!(share_fee(None, yen(1200), &parts).expect("none"), vec![None, None, None]);
    }
}
