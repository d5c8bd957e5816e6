//! The demo day, end to end: every figure treasury reads back through the API agrees with what
//! the counters did, and the one planted discrepancy is the only one.

use demo::day::{DemoOptions, PLANTED_SHORTAGE_YEN};
use e2e::example_config_path;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demo_day_reads_back_exactly_what_was_played() {
    let data = tempfile::tempdir().expect("temp dir");
    let options = DemoOptions {
        config: example_config_path(),
        data_dir: data.path().to_path_buf(),
        sales: 400,
        date: Some("2026-11-24".parse().expect("date")),
        seed: 7,
        cashless_per_mille: 150,
        quiet: true,
        reconcile: Default::default(),
        pages: demo::pages::PagesOptions { serve: false, listen: "127.0.0.1:0".parse().expect("address") },
    };
    let report = demo::day::run(options.clone()).await.expect("demo day");
    let config = pos_config::load_with_env(&example_config_path(), |_| None).expect("config");

    assert_eq!(report.business_date, "2026-11-24");
    assert_eq!(report.facilities.len(), 35);
    let paid: usize = report.facilities.iter().map(|f| f.sales_paid).sum();
    let voided: usize = report.facilities.iter().map(|f| f.sales_voided).sum();
    assert_eq!(paid, report.played_paid);
    assert_eq!(voided, report.played_voided);
    assert_eq!(paid + voided, 400);

    for day in &report.facilities {
        let facility = config.facilities.iter().find(|f| f.id.as_str() == day.facility_id).expect("facility");
        let float_per_register =
            if matches!(facility.kind, pos_config::FacilityKind::CarPark | pos_config::FacilityKind::BicyclePark) {
                50_000
            } else {
                30_000
            };
        let floats = float_per_register * i64::try_from(facility.registers.len()).expect("count");
        assert_eq!(
            day.cash_expected,
            floats + day.amount_paid - day.cashless_amount - day.qr_amount,
            "{}: expected cash is the floats plus the day's cash takings",
            day.facility_id
        );
        assert_eq!(day.over_short, day.cash_counted - day.cash_expected, "{}", day.facility_id);
    }
    let short: Vec<_> = report.facilities.iter().filter(|f| f.over_short != 0).collect();
    assert_eq!(short.len(), 1, "exactly one planted discrepancy");
    assert_eq!(short[0].over_short, -PLANTED_SHORTAGE_YEN);
    // Cashless payments went through the switch; the simulated acquirers hold exactly what the
    // journal says was taken.
    let cashless: usize = report.facilities.iter().map(|f| f.cashless_payments).sum();
    let cashless_amount: i64 = report.facilities.iter().map(|f| f.cashless_amount).sum();
    assert!(cashless > 20, "{cashless}");
    assert_eq!(report.acquirer_approved, cashless);
    assert_eq!(report.acquirer_approved_amount, cashless_amount);
    let qr: usize = report.facilities.iter().map(|f| f.qr_payments).sum();
    let qr_amount: i64 = report.facilities.iter().map(|f| f.qr_amount).sum();
    assert!(qr > 0, "QR payments were played");
    assert_eq!(
        (report.qr_provider_paid, report.qr_provider_paid_amount),
        (qr, qr_amount),
        "the QR provider holds exactly what the journal completed"
    );
    assert!(report.audit_intact);
    assert!(report.audit_records > 800, "every API call is audited");
    assert!(std::path::Path::new(&report.journal).exists());
    // One register's card and e-money payments went through counterd and the terminal simulator
    // over a pty, and its printer printed a receipt for each.
    assert!(report.counter_register.is_some());
    assert!(!report.counter_receipts.is_empty());
    for receipt in &report.counter_receipts {
        let text = std::fs::read_to_string(receipt).expect("receipt written");
        assert!(text.contains("領収書") && text.contains("No. "), "{text}");
    }

    // The same seed replays the same day.
    let again = demo::day::run(options).await.expect("second run");
    assert_eq!(again.facilities, report.facilities);
}
