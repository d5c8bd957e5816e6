//! The invariants of a simulated day. [`any_moment`] holds at every moment the gateway answers
//! (checked after each restart, while the counters go on); [`end_of_day`] adds what holds once
//! everything due has resolved: nothing left authorizing, what stayed in doubt on treasury's list,
//! and the acquirers' and QR provider's ledgers equal to the journal, payment by payment.

use std::collections::{BTreeMap, HashMap};

use pos_core::api::{ExceptionList, PaymentView, SaleView};
use pos_core::{Method, PaymentState};

use super::{charged, Shared, Tally, Violation, TREASURY_TOKEN};
use crate::rig::Rig;

/// Checks made and their outcome (the first violation).
pub struct Checked {
    pub checks: u64,
    pub result: Result<(), Violation>,
}

/// States an answer may still change, which must not outlive the resolution window.
pub fn unsettled(state: PaymentState) -> bool {
    matches!(state, PaymentState::Authorizing | PaymentState::Approved)
}

/// Every sale of the day's registers, as treasury reads them through the API.
pub async fn read_sales(shared: &Shared) -> anyhow::Result<Vec<SaleView>> {
    let mut sales = Vec::new();
    for register in &shared.registers {
        let list: pos_core::api::SaleList =
            shared.get(&format!("/v1/sales?register_id={register}&limit=1000"), TREASURY_TOKEN).await?;
        sales.extend(list.sales);
    }
    Ok(sales)
}

/// Treasury's open exceptions: the records they name.
pub async fn raised_records(shared: &Shared) -> anyhow::Result<Vec<String>> {
    let exceptions: ExceptionList = shared.get("/v1/treasury/exceptions", TREASURY_TOKEN).await?;
    Ok(exceptions.exceptions.into_iter().flat_map(|e| e.records).collect())
}

/// Refunds still in a state an answer may change (`authorizing`), or in doubt and not raised.
pub async fn refunds_unsettled(rig: &Rig, records: &[String]) -> anyhow::Result<Vec<String>> {
    let mut conn = rig.app.journal.read().await?;
    let later = chrono::Utc::now() + chrono::Duration::days(1);
    let mut open = Vec::new();
    for state in [pos_core::RefundState::Authorizing, pos_core::RefundState::InDoubt] {
        for refund in gateway::journal::refunds::in_state_since(&mut conn, state, later, 1_000).await? {
            let raised = records.iter().any(|r| r.contains(&refund.view.id) || r.contains(&refund.view.payment_id));
            if state == pos_core::RefundState::Authorizing || !raised {
                open.push(format!("refund {} of payment {} {state:?}", refund.view.id, refund.view.payment_id));
            }
        }
    }
    Ok(open)
}

/// Whether everything due has resolved: nothing authorizing, no reversal pending, what is in
/// doubt raised to treasury.
pub async fn settled(rig: &Rig, shared: &Shared) -> anyhow::Result<Option<()>> {
    let pending = gateway::journal::reversals::count(&rig.app.journal, pos_core::ReversalState::Pending).await?;
    let sales = read_sales(shared).await?;
    let records = raised_records(shared).await?;
    let raised = |id: &str| records.iter().any(|r| r.contains(id));
    let open = sales
        .iter()
        .flat_map(|s| &s.payments)
        .any(|p| unsettled(p.state) || (p.state == PaymentState::InDoubt && !raised(&p.id) && !left_to_treasury(p)));
    let refunds = refunds_unsettled(rig, &records).await?;
    Ok((pending == 0 && !open && refunds.is_empty()).then_some(()))
}

/// An e-money payment the centre answered `Y1` (処理未了): by design only treasury settles it
/// (with the centre, then `POST /v1/payments/{id}/resolve`), from its list of payments in doubt.
pub fn left_to_treasury(payment: &PaymentView) -> bool {
    payment.state == PaymentState::InDoubt
        && payment.method == Method::Emoney
        && payment.response_code.as_deref() == Some("Y1")
}

fn violation(invariant: &'static str, detail: String) -> Result<(), Violation> {
    Err(Violation { invariant, detail })
}

/// The checks that hold at any moment.
pub async fn any_moment(shared: &Shared) -> Checked {
    // The acknowledgements first: a payment acknowledged after the journal was read is not in it.
    let acks = shared.acks.lock().map(|a| a.clone()).unwrap_or_else(|p| p.into_inner().clone());
    let sales = match read_sales(shared).await {
        Ok(sales) => sales,
        Err(error) => {
            return Checked {
                checks: 0,
                result: violation("the journal is readable after a restart", format!("{error:#}")),
            }
        }
    };
    // Voids asked for since: a clerk marks the void before asking, so every void the journal read
    // shows is marked by now.
    let voids: std::collections::HashSet<String> = shared
        .acks
        .lock()
        .map(|a| a.iter().filter(|a| a.voided).map(|a| a.sale_id.clone()).collect())
        .unwrap_or_default();
    let acks: Vec<super::Ack> =
        acks.into_iter().map(|a| super::Ack { voided: a.voided || voids.contains(&a.sale_id), ..a }).collect();
    let mut checks = 0;
    let result = (|| {
        checks += 1;
        acknowledged_exist_once(&acks, &sales)?;
        checks += 1;
        no_sale_charged_twice(&sales)?;
        checks += 1;
        receipts_gapless(&sales)?;
        checks += 1;
        refunds_bounded(&sales)
    })();
    let audit = match result {
        Ok(()) => {
            checks += 1;
            audit_verifies(shared).await
        }
        Err(v) => Err(v),
    };
    Checked { checks, result: audit }
}

/// Every payment a clerk saw acknowledged is in the journal exactly once, in its sale, in a state
/// that holds the money (or gave it back by the void or refund the clerk saw acknowledged).
fn acknowledged_exist_once(acks: &[super::Ack], sales: &[SaleView]) -> Result<(), Violation> {
    const INVARIANT: &str = "every acknowledged payment exists exactly once";
    let mut seen: HashMap<&str, (usize, &SaleView, &PaymentView)> = HashMap::new();
    for sale in sales {
        for payment in &sale.payments {
            let entry = seen.entry(payment.id.as_str()).or_insert((0, sale, payment));
            entry.0 += 1;
        }
    }
    for ack in acks {
        let Some((count, sale, payment)) = seen.get(ack.payment_id.as_str()) else {
            return violation(
                INVARIANT,
                format!("payment {} of sale {} is not in the journal", ack.payment_id, ack.sale_id),
            );
        };
        if *count != 1 || sale.id != ack.sale_id {
            return violation(
                INVARIANT,
                format!(
                    "payment {} appears {count} times, in sale {} (acknowledged in {})",
                    ack.payment_id, sale.id, ack.sale_id
                ),
            );
        }
        if payment.amount != ack.amount || payment.method != ack.method {
            return violation(
                INVARIANT,
                format!(
                    "payment {} is {} {} in the journal, acknowledged as {} {}",
                    payment.id, payment.method, payment.amount, ack.method, ack.amount
                ),
            );
        }
        let undone = matches!(payment.state, PaymentState::Voided | PaymentState::Reversed | PaymentState::InDoubt);
        let given_back = ack.voided && undone;
        if !(charged(payment.state) || given_back) {
            return violation(
                INVARIANT,
                format!(
                    "payment {} acknowledged as taking money is {} (void asked: {})",
                    payment.id, payment.state, ack.voided
                ),
            );
        }
        if payment.refunded.get() < ack.refunded {
            return violation(
                "every acknowledged refund is booked",
                format!("payment {} has {} refunded, {} acknowledged", payment.id, payment.refunded, ack.refunded),
            );
        }
    }
    Ok(())
}

/// No sale holds more money than it costs, and a paid sale exactly its cost.
fn no_sale_charged_twice(sales: &[SaleView]) -> Result<(), Violation> {
    for sale in sales {
        let charged_total: i64 = sale.payments.iter().filter(|p| charged(p.state)).map(|p| p.amount.get()).sum();
        if charged_total > sale.amount_total.get() {
            let ids: Vec<String> = sale.payments.iter().map(|p| format!("{} {}", p.id, p.state)).collect();
            return violation(
                "no customer is charged twice for one sale",
                format!("sale {} of {} holds {charged_total} in payments {ids:?}", sale.id, sale.amount_total),
            );
        }
        if sale.state == pos_core::SaleState::Paid && charged_total != sale.amount_total.get() {
            return violation(
                "a paid sale holds its amount",
                format!("sale {} is paid ({}) holding {charged_total}", sale.id, sale.amount_total),
            );
        }
    }
    Ok(())
}

/// Receipt numbers run 1, 2, 3… per register and fiscal year: no gap, no repeat.
fn receipts_gapless(sales: &[SaleView]) -> Result<(), Violation> {
    let mut numbers: BTreeMap<(String, String), Vec<(i64, &str)>> = BTreeMap::new();
    for sale in sales {
        if let Some(receipt) = &sale.receipt {
            numbers
                .entry((sale.register_id.to_string(), format!("{:?}", receipt.fiscal_year)))
                .or_default()
                .push((receipt.number, sale.id.as_str()));
        }
    }
    for ((register, year), mut list) in numbers {
        list.sort();
        for (expected, (number, sale)) in (1..).zip(&list) {
            if *number != expected {
                return violation(
                    "receipt numbers are gapless per register and fiscal year",
                    format!("register {register} year {year}: receipt {number} (sale {sale}) where {expected} was due"),
                );
            }
        }
    }
    Ok(())
}

/// What was refunded and reversed of a payment is at most its amount.
fn refunds_bounded(sales: &[SaleView]) -> Result<(), Violation> {
    for payment in sales.iter().flat_map(|s| &s.payments) {
        let undone = matches!(payment.state, PaymentState::Voided | PaymentState::Reversed);
        if payment.refunded > payment.amount || (undone && payment.refunded.get() > 0) {
            return violation(
                "refunded + reversed ≤ amount",
                format!(
                    "payment {} of {} is {} with {} refunded",
                    payment.id, payment.amount, payment.state, payment.refunded
                ),
            );
        }
    }
    Ok(())
}

async fn audit_verifies(shared: &Shared) -> Result<(), Violation> {
    match shared.get::<gateway::journal::audit::Verification>("/v1/audit/verify", TREASURY_TOKEN).await {
        Ok(verification) if verification.is_intact() => Ok(()),
        Ok(verification) => violation("the audit chain verifies", format!("{:?}", verification.problem)),
        Err(error) => violation("the audit chain verifies", format!("{error:#}")),
    }
}

/// The end of the day: [`any_moment`], nothing unsettled, what stayed in doubt raised to treasury,
/// and the outside ledgers equal to the journal.
pub async fn end_of_day(rig: &Rig, shared: &Shared, tally: &mut Tally) -> Checked {
    let moment = any_moment(shared).await;
    if moment.result.is_err() {
        return moment;
    }
    let mut checks = moment.checks;
    let read = async {
        let sales = read_sales(shared).await?;
        let exceptions: ExceptionList = shared.get("/v1/treasury/exceptions", TREASURY_TOKEN).await?;
        let records: Vec<String> = exceptions.exceptions.iter().flat_map(|e| e.records.clone()).collect();
        let refunds = refunds_unsettled(rig, &records).await?;
        anyhow::Ok((sales, exceptions, refunds))
    };
    let (sales, exceptions, refunds) = match read.await {
        Ok(read) => read,
        Err(error) => return Checked { checks, result: violation("the journal is readable", format!("{error:#}")) },
    };
    let records: Vec<&String> = exceptions.exceptions.iter().flat_map(|e| &e.records).collect();
    let raised = |id: &str| records.iter().any(|r| r.contains(id));
    let result = (|| {
        checks += 1;
        for payment in sales.iter().flat_map(|s| &s.payments) {
            if unsettled(payment.state) {
                return violation(
                    "nothing stays authorizing past the resolution window",
                    format!("payment {} is {} ({:?})", payment.id, payment.state, payment.note),
                );
            }
            if left_to_treasury(payment) && !raised(&payment.id) {
                tally.left_to_treasury += 1;
            } else if payment.state == PaymentState::InDoubt {
                if !raised(&payment.id) {
                    return violation(
                        "what stays in doubt is on treasury's exceptions list",
                        format!("payment {} is in doubt and not raised", payment.id),
                    );
                }
                tally.in_doubt_raised += 1;
            }
        }
        checks += 1;
        if let Some(refund) = refunds.first() {
            return violation("nothing stays authorizing past the resolution window", refund.clone());
        }
        checks += 1;
        acquirer_ledgers_equal_journal(rig, &sales, &raised)?;
        checks += 1;
        qr_ledger_equals_journal(shared, &sales, &raised)
    })();
    Checked { checks, result }
}

fn acquirer_ledgers_equal_journal(
    rig: &Rig,
    sales: &[SaleView],
    raised: &dyn Fn(&str) -> bool,
) -> Result<(), Violation> {
    const INVARIANT: &str = "the acquirers' ledgers equal the journal's payments";
    let ledger: Vec<acquirer_sim::LedgerEntry> =
        [&rig.card, &rig.emoney].into_iter().flatten().flat_map(|s| s.ledger()).collect();
    let payments: Vec<&PaymentView> =
        sales.iter().flat_map(|s| &s.payments).filter(|p| matches!(p.method, Method::Card | Method::Emoney)).collect();
    let by_rrn: HashMap<&str, &PaymentView> =
        payments.iter().filter_map(|p| p.rrn.as_deref().map(|rrn| (rrn, *p))).collect();
    // Payments whose outcome treasury holds: in doubt, or a void the acquirer would not confirm.
    let excused = |amount: i64| payments.iter().any(|p| p.amount.get() == amount && raised(&p.id) && !charged(p.state));
    for entry in ledger.iter().filter(|e| e.kind == acquirer_sim::EntryKind::Sale) {
        let payment = by_rrn.get(entry.rrn.as_str());
        let held = payment.is_some_and(|p| charged(p.state) && p.amount == entry.amount);
        match &entry.state {
            acquirer_sim::EntryState::Approved if !held && !excused(entry.amount.get()) => {
                return violation(
                    INVARIANT,
                    format!(
                        "the acquirer holds rrn {} ({} {}) which the journal has as {:?}",
                        entry.rrn,
                        entry.brand,
                        entry.amount,
                        payment.map(|p| format!("payment {} {}", p.id, p.state))
                    ),
                );
            }
            acquirer_sim::EntryState::Approved => {}
            state => {
                if let Some(p) = payment.filter(|p| charged(p.state)) {
                    return violation(
                        INVARIANT,
                        format!("payment {} is {} while the acquirer has rrn {} {state:?}", p.id, p.state, entry.rrn),
                    );
                }
            }
        }
    }
    for payment in payments.iter().filter(|p| charged(p.state)) {
        let approved = payment.rrn.as_deref().is_some_and(|rrn| {
            ledger.iter().any(|e| {
                e.kind == acquirer_sim::EntryKind::Sale && e.rrn == rrn && e.state == acquirer_sim::EntryState::Approved
            })
        });
        if !approved {
            return violation(
                INVARIANT,
                format!(
                    "payment {} is {} (rrn {:?}) without an approval at the acquirer",
                    payment.id, payment.state, payment.rrn
                ),
            );
        }
        let refunded: i64 = ledger
            .iter()
            .filter(|e| {
                e.kind == acquirer_sim::EntryKind::Refund
                    && e.state == acquirer_sim::EntryState::Approved
                    && e.original_rrn.as_deref() == payment.rrn.as_deref()
            })
            .map(|e| e.amount.get())
            .sum();
        if refunded != payment.refunded.get() && !raised(&payment.id) {
            return violation(
                "refunds at the acquirer equal the journal's",
                format!("payment {} has {} refunded, the acquirer {refunded}", payment.id, payment.refunded),
            );
        }
    }
    Ok(())
}

fn qr_ledger_equals_journal(
    shared: &Shared,
    sales: &[SaleView],
    raised: &dyn Fn(&str) -> bool,
) -> Result<(), Violation> {
    const INVARIANT: &str = "the QR provider's ledger equals the journal's payments";
    let payments: HashMap<&str, &PaymentView> =
        sales.iter().flat_map(|s| &s.payments).filter(|p| p.method == Method::Qr).map(|p| (p.id.as_str(), p)).collect();
    let records = shared.qr.payments();
    let refunds = shared.qr.refunds();
    for record in &records {
        let id = record.merchant_payment_id.as_str();
        let at_provider =
            matches!(record.status, qr_protocol::PaymentStatus::Completed | qr_protocol::PaymentStatus::Refunded);
        let payment = payments.get(id);
        let held = payment.is_some_and(|p| charged(p.state));
        if at_provider != held && !raised(id) {
            return violation(
                INVARIANT,
                format!(
                    "the provider has {id} {} ({}), the journal {:?}",
                    record.status.as_str(),
                    record.amount,
                    payment.map(|p| p.state)
                ),
            );
        }
        if let Some(p) = payment.filter(|p| charged(p.state)) {
            let refunded: i64 =
                refunds.iter().filter(|r| r.merchant_payment_id.as_str() == id).map(|r| r.amount.get()).sum();
            if refunded != p.refunded.get() && !raised(id) {
                return violation(
                    "refunds at the QR provider equal the journal's",
                    format!("payment {id} has {} refunded, the provider {refunded}", p.refunded),
                );
            }
        }
    }
    for payment in payments.values().filter(|p| charged(p.state)) {
        if !records.iter().any(|r| r.merchant_payment_id.as_str() == payment.id) {
            return violation(
                INVARIANT,
                format!("payment {} is {} and unknown to the provider", payment.id, payment.state),
            );
        }
    }
    Ok(())
}
