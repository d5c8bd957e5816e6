//! Closing a day: the closed day is immutable, reconciling it again is refused, and what the
//! acquirers send later becomes adjustments on the day it is found, in the right fiscal year.

use chrono::NaiveDate;
use pos_core::Brand;
use reconciler::close::{adjustments_for, AdjustmentKind, CloseError, Store};
use reconciler::report::DayReport;

use super::support::*;

/// A card payment at 23:50 on 31 March 2026, and the card file that settles it, sent in April.
fn march_day() -> reconciler::journal::DayJournal {
    let card = payment("PAY-MARCH", Brand::Visa, 3_000, "2026-03-31T23:50:00", "000777", Some("632810000777"));
    journal("2026-03-31", vec![card], None)
}

#[tokio::test]
async fn a_closed_day_is_immutable_and_late_settlements_are_adjustments_in_the_old_year() {
    let folder = tempfile::tempdir().unwrap();
    let store = Store::open(&folder.path().join("reconciler.db")).await.unwrap();
    let config = config();
    let journal = march_day();

    // Closed on 31 March with no settlement yet: the payment is a timing difference.
    let at_closing = reconcile(&config, &journal, &Default::default(), &[], "2026-03-31");
    assert_eq!(at_closing.timing_differences.len(), 1);
    let report = DayReport::build(&at_closing, &journal, &config).unwrap();
    let closed = store.close_day(&at_closing, &report, date("2026-03-31")).await.unwrap();
    assert_eq!(closed.open_items.len(), 1);
    assert_eq!(closed.fiscal_year, 2025);

    // Closing or reconciling it again is refused.
    let again = store.close_day(&at_closing, &report, date("2026-04-01")).await.unwrap_err();
    assert!(matches!(again, CloseError::AlreadyClosed { .. }), "{again}");
    assert_eq!(
        store.ensure_open(&at_closing.facility, at_closing.business_date).await.unwrap_err().to_string(),
        "SHIMIN on 2026-03-31 was closed on 2026-03-31; it cannot be reconciled or closed again (later findings become adjustments)"
    );

    // The store refuses changes to a closed day even from outside the reconciler.
    let url = format!("sqlite://{}", folder.path().join("reconciler.db").display());
    let raw = sqlx::SqlitePool::connect(&url).await.unwrap();
    let error = sqlx::query("UPDATE closed_days SET revenue_total = 0").execute(&raw).await.unwrap_err();
    assert!(error.to_string().contains("a closed day is immutable"), "{error}");
    raw.close().await;

    // On 2 April the card file settles it: one adjustment, found on 2 April, booked to FY2025.
    let mut settlements = settlements_for(&config, &journal);
    let mut record = settlements.card[0].settlement.records[0].clone();
    record.settlement_date = date("2026-04-01");
    record.payout_date = NaiveDate::from_ymd_opt(2026, 4, 3).unwrap();
    settlements.card[0] = card_file("card-settlement-20260401.csv", vec![record]);
    let later = reconcile(&config, &journal, &settlements, &[], "2026-04-02");
    let later_report = DayReport::build(&later, &journal, &config).unwrap();
    reconciler::report::totals::check_day_report(&later_report).unwrap();
    assert!(later.payouts[0].in_closing_period, "March revenue paid in April");
    let found = adjustments_for(&closed, &later, &later_report, &[], date("2026-04-02"));
    let summary: Vec<_> =
        found.iter().map(|adjustment| (adjustment.kind, adjustment.amount, adjustment.fiscal_year)).collect();
    let fee = contracted_fee(&config, Brand::Visa, yen(3_000));
    assert_eq!(
        summary,
        vec![
            (AdjustmentKind::Resolved, yen(3_000), 2025),
            (AdjustmentKind::Fees, fee, 2025),
            (AdjustmentKind::Net, yen(3_000 - fee.get()), 2025),
        ]
    );
    assert!(found
        .iter()
        .all(|adjustment| adjustment.found_on == date("2026-04-02")
            && adjustment.original_date.to_string() == "2026-03-31"));
    store.record_adjustments(&found).await.unwrap();
    // Recording the same findings again changes nothing.
    let stored = store.adjustments(&closed.facility).await.unwrap();
    let repeat = adjustments_for(&closed, &later, &later_report, &stored, date("2026-04-03"));
    assert_eq!(repeat, vec![]);
    store.record_adjustments(&found).await.unwrap();
    assert_eq!(store.adjustments(&closed.facility).await.unwrap(), found);
    // The closed figures themselves are unchanged.
    assert_eq!(store.closed_day(&closed.facility, closed.business_date).await.unwrap(), Some(closed));
    store.close().await;
}

#[test]
fn the_fiscal_year_boundary_is_the_tokyo_date() {
    let config = config();
    let before = journal("2026-03-31", vec![payment("P1", Brand::Cash, 300, "2026-03-31T23:59:59", "", None)], None);
    let after = journal("2026-04-01", vec![payment("P2", Brand::Cash, 300, "2026-04-01T00:00:00", "", None)], None);
    let old_year = reconcile(&config, &before, &Default::default(), &[], "2026-03-31");
    let new_year = reconcile(&config, &after, &Default::default(), &[], "2026-04-01");
    assert_eq!(DayReport::build(&old_year, &before, &config).unwrap().fiscal_year, 2025);
    assert_eq!(DayReport::build(&new_year, &after, &config).unwrap().fiscal_year, 2026);
    assert_eq!(
        reconciler::close::fiscal_year_booked(old_year.business_date, date("2026-06-01")).start_year(),
        2026,
        "found after 出納整理期間, it is the current year's"
    );
}
