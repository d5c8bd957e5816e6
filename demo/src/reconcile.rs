//! The demo's end of day: treasury reconciles the business day the demo played.
//!
//! Once the counters are closed, the simulated acquirers write the day's settlement files (the
//! card acquirer's with two planted mistakes: one sale left out, one fee a yen over the
//! contract), the simulated bank writes the statement their payouts and the facilities' cash
//! deposits produce, and the reconciler reads the demo's journal and those files exactly as the
//! `reconcile` command does, writes every facility's 日計表 (JSON, CSV, HTML), the city-wide and
//! per-operator summaries, the bank's lines with the city's list and the accounting export, and
//! lists the exceptions: the planted ones and the register closed ten yen short — and nothing
//! else, on any facility-day or on the city's list. Each is printed as treasury reads it: its
//! amount signed by its effect on the city's money, and what was found in Japanese and English.
//!
//! The day is reconciled "as of" the first bank business day after everything it started is
//! due (settlements by each acquirer's lag, payouts by their date, cash deposits the next day),
//! so nothing is left as a timing difference and every exception is final.
//!
//! The gateway depends on the reconciler, not the other way round: the reconciler reads the
//! journal through its own read-only [`reconciler::source`], and the treasury API the gateway is
//! to serve needs the reconciler too.

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::NaiveDate;
use pos_config::{Config, FacilityKind};
use pos_core::{BusinessDate, RegisterId, Yen};
use reconciler::calendar::BankCalendar;
use reconciler::exceptions::ExceptionKind;
use reconciler::pipeline::{self, Formats, InputFiles};
use reconciler::scale::run::{reconcile_days, spool_inputs, AsOf, RunShared};
use reconciler::settlements::SettlementTotals;
use reconciler::source::JournalSource;
use serde::Serialize;

/// The planted cash discrepancy at one register's close, which the reconciliation must find.
pub const PLANTED_SHORTAGE_YEN: i64 = 10;

/// What the demo's reconciliation plants and where it writes.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ReconcileOptions {
    /// Write the card acquirer's settlement file without the planted mistakes (the register
    /// closed ten yen short stays short: that is the counter's doing, not the file's).
    #[arg(long)]
    pub no_plant: bool,
}

/// The simulators whose books the day's files are written from.
pub struct Simulators<'a> {
    pub card: &'a acquirer_sim::SimulatorHandle,
    pub emoney: &'a acquirer_sim::SimulatorHandle,
    pub qr: &'a qr_sim::QrSimHandle,
}

/// One discrepancy: where, what kind (the reconciler's exception code), and the amount at stake.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Discrepancy {
    pub facility: String,
    pub kind: String,
    pub amount: i64,
}

/// An exception the reconciler found, as the demo prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Found {
    pub discrepancy: Discrepancy,
    pub name_ja: String,
    pub name_en: String,
    pub detail_ja: String,
    pub detail_en: String,
}

impl Found {
    fn of(facility: &str, row: &reconciler::report::ExceptionRow) -> Found {
        Found {
            discrepancy: Discrepancy {
                facility: facility.to_string(),
                kind: row.kind.clone(),
                amount: row.amount_at_stake.get(),
            },
            name_ja: row.name_ja.clone(),
            name_en: row.name_en.clone(),
            detail_ja: row.detail_ja.clone(),
            detail_en: row.detail_en.clone(),
        }
    }
}

/// The facility name the city's list goes under in [`Discrepancy::facility`].
pub const CITY_LIST: &str = "city";

/// What the day's reconciliation came to.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DemoReconciliation {
    pub as_of: String,
    /// Where the reports are.
    pub reports_dir: String,
    /// The settlement files and the bank statement read.
    pub inputs: Vec<String>,
    pub facilities_reconciled: usize,
    /// Journal records matched to settlement lines (match groups), and the lines read.
    pub matched: usize,
    pub settlement_lines: usize,
    pub timing_differences: usize,
    /// Payouts and cash deposits the bank statement holds, and the lines nothing explains.
    pub bank_credits: usize,
    pub bank_lines_unmatched: u64,
    /// What the demo planted, sorted.
    pub planted: Vec<Discrepancy>,
    /// What the reconciler found, by facility, then the city's list.
    pub found: Vec<Found>,
}

impl DemoReconciliation {
    /// The found exceptions as discrepancies, sorted, to compare with [`Self::planted`].
    pub fn found_discrepancies(&self) -> Vec<Discrepancy> {
        let mut found: Vec<Discrepancy> = self.found.iter().map(|found| found.discrepancy.clone()).collect();
        found.sort();
        found
    }
}

/// The register the demo closes [`PLANTED_SHORTAGE_YEN`] short: the first register of the
/// first certificate counter, the busiest kind of counter.
pub fn short_register(config: &Config) -> Option<RegisterId> {
    config
        .facilities
        .iter()
        .find(|facility| facility.kind == FacilityKind::CertificateCounter)
        .and_then(|facility| facility.registers.first())
        .map(|register| register.id.clone())
}

/// The planted fee error, in yen over the contracted fee.
pub const PLANTED_FEE_OFFSET_YEN: i64 = 1;
/// Bank business days between the last due date and the day the reconciliation is run for.
const AS_OF_AFTER_LAST_DUE_BUSINESS_DAYS: u32 = 1;

/// The balance the demo's bank account opens the statement with.
const BANK_OPENING_BALANCE_YEN: i64 = 50_000_000;

/// The demo's collection account at the city's designated bank (指定金融機関), fictional.
fn bank_account() -> anyhow::Result<bank_sim::Account> {
    Ok(bank_sim::Account {
        bank_code: 9900,
        bank_name: "ﾐﾅﾄｷﾞﾝｺｳ".to_string(),
        branch_code: 1,
        branch_name: "ｼﾔｸｼﾖﾏｴ".to_string(),
        account_type: bank_sim::AccountType::Ordinary,
        account_number: 1_234_567,
        account_name: "ﾐﾅﾄｼ ｶｲｹｲｶﾝﾘｼﾔ".to_string(),
        balance_opening: Yen::new(BANK_OPENING_BALANCE_YEN)?,
    })
}

/// Picks the card sales the settlement file gets wrong: the day's first standing card sale is
/// left out, the second is charged a fee [`PLANTED_FEE_OFFSET_YEN`] over the contract.
fn plant(
    config: &Config,
    card: &acquirer_sim::SimulatorHandle,
    date: NaiveDate,
    planted: &mut Vec<Discrepancy>,
) -> anyhow::Result<acquirer_sim::SettlementFaults> {
    let mut sales: Vec<acquirer_sim::LedgerEntry> = card
        .ledger()
        .into_iter()
        .filter(|entry| {
            entry.state == acquirer_sim::EntryState::Approved
                && entry.kind == acquirer_sim::EntryKind::Sale
                && BusinessDate::of_instant(entry.at.to_utc()).date() == date
        })
        .collect();
    sales.sort_by(|a, b| (a.at, &a.rrn).cmp(&(b.at, &b.rrn)));
    let facility_of = |entry: &acquirer_sim::LedgerEntry| {
        config
            .facilities
            .iter()
            .find(|facility| facility.merchant_id == entry.merchant_id)
            .map(|facility| facility.id.to_string())
            .with_context(|| format!("the card acquirer booked merchant {} of no facility", entry.merchant_id))
    };
    let mut faults = acquirer_sim::SettlementFaults::default();
    if let Some(omitted) = sales.first() {
        faults.omit_rrns.insert(omitted.rrn.clone());
        planted.push(Discrepancy {
            facility: facility_of(omitted)?,
            kind: ExceptionKind::MissingInSettlement.code().to_string(),
            amount: -omitted.amount.get(),
        });
    }
    if let Some(overcharged) = sales.get(1) {
        faults.fee_offsets.insert(overcharged.rrn.clone(), PLANTED_FEE_OFFSET_YEN);
        planted.push(Discrepancy {
            facility: facility_of(overcharged)?,
            kind: ExceptionKind::FeeMismatch.code().to_string(),
            // Charged above the contract, the city gets less: negative.
            amount: -PLANTED_FEE_OFFSET_YEN,
        });
    }
    Ok(faults)
}

/// One acquirer payout as the bank receives it: who pays, when, how much, with which reference.
struct Payout {
    payer_name: String,
    date: NaiveDate,
    reference: Option<String>,
    amount_net: Yen,
}

/// The payouts the settlement files announce, as the reconciler totals them (per acquirer and
/// payout id, or date for the e-money centre; no 処理未了 nor the 取消 deciding one): what each
/// acquirer transfers.
fn payouts(config: &Config, totals: &SettlementTotals) -> anyhow::Result<Vec<Payout>> {
    let mut payouts = Vec::new();
    for (key, amount_net) in totals.payouts()? {
        let acquirer = config.acquirers.iter().find(|a| a.id == key.acquirer).context("acquirer vanished")?;
        payouts.push(Payout {
            payer_name: acquirer.depositor_name.clone(),
            date: key.payout_date,
            reference: key.payout_id.map(|id| id.as_str().to_string()),
            amount_net,
        });
    }
    Ok(payouts)
}

/// The day the reconciliation is run for: a bank business day after every due date of the day.
fn as_of(config: &Config, calendar: &BankCalendar, date: NaiveDate, payouts: &[Payout]) -> anyhow::Result<NaiveDate> {
    let lag = config.acquirers.iter().map(|acquirer| acquirer.settlement_lag_days).max().unwrap_or(0);
    let mut last_due = calendar.due_on(date, lag)?.max(calendar.next_business_day(date)?);
    for payout in payouts {
        last_due = last_due.max(calendar.next_business_day(payout.date)?);
    }
    Ok(calendar.add_business_days(last_due, AS_OF_AFTER_LAST_DUE_BUSINESS_DAYS)?)
}

fn shown(path: &Path) -> String {
    path.display().to_string()
}

/// Writes the day's settlement files and bank statement, reconciles every facility, writes the
/// reports into `<data dir>/reconciliation/<date>/` and returns what was found.
pub async fn reconcile_day(
    config: &Config,
    data_dir: &Path,
    options: &ReconcileOptions,
    date: NaiveDate,
    sims: Simulators<'_>,
) -> anyhow::Result<DemoReconciliation> {
    let calendar = BankCalendar::for_config(config)?;
    let day = BusinessDate::new(date);
    let mut planted = Vec::new();
    let faults = if options.no_plant { Default::default() } else { plant(config, sims.card, date, &mut planted)? };
    if let Some(register) = short_register(config) {
        let (facility, _) = config.register(&register).context("the short register vanished")?;
        planted.push(Discrepancy {
            facility: facility.id.to_string(),
            kind: ExceptionKind::CashShort.code().to_string(),
            amount: -PLANTED_SHORTAGE_YEN,
        });
    }
    planted.sort();

    let inputs_dir = data_dir.join("settlement");
    let mut files = InputFiles {
        card: vec![sims.card.write_settlement_with(date, &inputs_dir, &faults)?],
        qr: vec![(sims.qr.config().brand, sims.qr.write_settlement(date, &inputs_dir)?)],
        emoney: vec![sims.emoney.write_settlement(date, &inputs_dir)?],
        bank: None,
    };
    // The bank simulator credits what the files announce: their totals, read the way a run
    // reads them.
    let announced = spool_inputs(&files, config, &data_dir.join("spool").join(format!("{date}-payouts")), date)?;
    let payouts = payouts(config, &announced.totals)?;
    drop(announced);
    let as_of = as_of(config, &calendar, date, &payouts)?;

    let source = JournalSource::connect(&config.database.url).await?;
    let mut movements = Vec::new();
    for payout in payouts.iter().filter(|payout| payout.amount_net > Yen::ZERO) {
        movements.push(bank_sim::Movement {
            booking_date: calendar.business_day_on_or_after(payout.date)?,
            direction: bank_sim::Direction::Credit,
            kind: bank_sim::TransactionKind::Transfer,
            amount: payout.amount_net,
            payer_name: payout.payer_name.clone(),
            description: payout.reference.clone().unwrap_or_default(),
        });
    }
    // Each facility takes the day's cash, less the floats that stay in the drawers, to the bank
    // the next business morning.
    let deposit_day = calendar.next_business_day(date)?;
    for facility in &config.facilities {
        let journal = source.read_day(&facility.id, day).await?;
        let mut deposit = Yen::ZERO;
        for shift in &journal.shifts {
            if let Some(counted) = shift.cash_counted {
                deposit = deposit.checked_add(counted.checked_sub(shift.float_opening)?)?;
            }
        }
        if deposit > Yen::ZERO {
            movements.push(bank_sim::Movement {
                booking_date: deposit_day,
                direction: bank_sim::Direction::Credit,
                kind: bank_sim::TransactionKind::Cash,
                amount: deposit,
                payer_name: facility.depositor_name.clone(),
                description: String::new(),
            });
        }
    }
    let bank_credits = movements.len();
    let statement =
        bank_sim::Statement { created_on: as_of, from: date, to: as_of, accounts: vec![(bank_account()?, movements)] };
    files.bank = Some(bank_sim::write(&statement, &inputs_dir)?);

    // From here on, exactly what `reconcile range` does with these files.
    let spool_dir = data_dir.join("spool").join(date.to_string());
    let spooled = spool_inputs(&files, config, &spool_dir, as_of)?;
    let out: PathBuf = data_dir.join("reconciliation").join(date.to_string());
    let formats = Formats { json: true, csv: true, html: true };
    let mut result = DemoReconciliation {
        as_of: as_of.to_string(),
        reports_dir: shown(&out),
        inputs: files
            .card
            .iter()
            .chain(files.emoney.iter())
            .chain(files.qr.iter().map(|(_, path)| path))
            .map(|p| shown(p))
            .collect(),
        settlement_lines: usize::try_from(spooled.statistics.lines)?,
        bank_credits,
        planted,
        ..DemoReconciliation::default()
    };
    result.inputs.extend(files.bank.iter().map(|path| shown(path)));
    let run = RunShared::prepare(&source, config.clone(), calendar, spooled, as_of).await?;
    let mut reports = Vec::new();
    let days = config.facilities.iter().map(|facility| (facility.id.clone(), day)).collect();
    reconcile_days(&source, &run, days, AsOf::Fixed(as_of), 1, |reconciled| {
        pipeline::write_day_report(&reconciled.report, &out, formats)?;
        result.facilities_reconciled += 1;
        result.matched += reconciled.result.match_groups.len();
        result.timing_differences += reconciled.result.timing_differences.len();
        let facility_id = reconciled.report.facility.to_string();
        result.found.extend(reconciled.report.exceptions.rows.iter().map(|row| Found::of(&facility_id, row)));
        reports.push(reconciled.report);
        Ok(())
    })
    .await
    .with_context(|| format!("reconciling {date}"))?;
    let bank_report = pipeline::bank_report(&run.bank, &reports)?;
    result.bank_lines_unmatched = bank_report.unmatched_count;
    result.found.extend(bank_report.exceptions.rows.iter().map(|row| Found::of(CITY_LIST, row)));
    pipeline::write_summaries(&reports, &bank_report, config, &out, formats, &date.to_string(), (date, as_of))?;
    source.close().await;
    std::fs::remove_dir_all(data_dir.join("spool")).ok();
    Ok(result)
}

/// The reconciliation's lines of the demo's summary: each exception with its kind, its amount
/// signed by its effect on the city's money, and what was found in Japanese, then English.
pub fn print(reconciliation: &DemoReconciliation) {
    print!("{}", render(reconciliation));
}

/// The lines [`print`] prints.
pub fn render(reconciliation: &DemoReconciliation) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    // Writing to a String cannot fail, so the results of writeln! are ignored throughout.
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Reconciliation as of {} (every settlement, payout and deposit of the day due by then):",
        reconciliation.as_of
    );
    let _ = writeln!(
        out,
        "  {} facilities reconciled; {} journal records matched to {} settlement lines; {} bank credits, {} bank line(s) unmatched; {} item(s) still due.",
        reconciliation.facilities_reconciled,
        reconciliation.matched,
        reconciliation.settlement_lines,
        reconciliation.bank_credits,
        reconciliation.bank_lines_unmatched,
        reconciliation.timing_differences
    );
    let _ = writeln!(out, "  例外 {} 件 / {} exception(s):", reconciliation.found.len(), reconciliation.found.len());
    for found in &reconciliation.found {
        let planted = reconciliation.planted.contains(&found.discrepancy);
        let amount = Yen::new(found.discrepancy.amount).map(reconciler::describe::signed_yen_ja).unwrap_or_default();
        let place =
            if found.discrepancy.facility == CITY_LIST { "市全体" } else { found.discrepancy.facility.as_str() };
        let _ = writeln!(
            out,
            "    {place:<6} {} / {}  {amount}{}",
            found.name_ja,
            found.name_en,
            if planted { "  (planted)" } else { "" }
        );
        let _ = writeln!(out, "           {}", found.detail_ja);
        let _ = writeln!(out, "           {}", found.detail_en);
    }
    let found = reconciliation.found_discrepancies();
    let verdict = if found == reconciliation.planted { "exactly the planted ones" } else { "NOT the planted ones" };
    let _ = writeln!(
        out,
        "  Found {verdict}. Reports (日計表 JSON/CSV/HTML, city and operator summaries, bank lines, accounting export): {}",
        reconciliation.reports_dir
    );
    out
}
