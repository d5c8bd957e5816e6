//! The reports of reconciled days: every total is the sum of its lines (checked on every report
//! built here), CSV is UTF-8 with BOM and CRLF, and the HTML page lists the exceptions.

use pos_config::RevenueRule;
use pos_core::Brand;
use reconciler::exceptions::ExceptionKind;
use reconciler::report::accounting::journal_entries;
use reconciler::report::bank::BankReport;
use reconciler::report::summary::{CitySummary, OperatorSummary};
use reconciler::report::totals::{
    check_city_summary, check_day_report, check_journal_entries, check_operator_summary, check_receivables,
};
use reconciler::report::{csv, html, to_json, DayReport};

use super::database::mixed_day;
use super::support::*;

/// The mixed day reconciled with a cash shortage of 100 yen and one card line missing.
fn day_with_discrepancies(revenue_rule: RevenueRule) -> DayReport {
    let config = config_with(revenue_rule);
    let mut journal = mixed_day("2026-11-24");
    journal.shifts[0].cash_counted = Some(yen(FLOAT + 900 - 100));
    let mut settlements = settlements_for(&config, &journal);
    let mut card = settlements.card[0].settlement.records.clone();
    card.remove(1);
    settlements.card[0] = card_file("card-settlement-20261124.csv", card);
    let bank = bank_for(&settlements, &journal);
    let result = reconcile(&config, &journal, &settlements, &bank, "2026-12-10");
    assert_eq!(kinds(&result), vec![ExceptionKind::MissingInSettlement, ExceptionKind::CashShort]);
    let report = DayReport::build(&result, &journal, &config).unwrap();
    check_day_report(&report).unwrap();
    report
}

#[test]
fn the_day_report_has_every_section_and_adds_up() {
    let report = day_with_discrepancies(RevenueRule::Shiyoryo);
    assert_eq!(report.revenue.amount_total, yen(8_170));
    let visa = report.revenue.rows.iter().find(|row| row.brand == Some(Brand::Visa)).unwrap();
    assert_eq!((visa.lines_count, visa.amount), (1, yen(1_500)));
    assert_eq!(report.cash.expected_total, yen(FLOAT + 900));
    assert_eq!(report.cash.over_short_total, yen(-100));
    assert_eq!(report.cash.to_deposit_total, yen(800));
    assert_eq!(report.exceptions.count, 2);
    assert_eq!(report.exceptions.amount_at_stake_total, yen(-5_000 - 100));
    // Gross = fee + net on every payout, and the bank paid what was settled.
    assert_eq!(report.cashless.receivable_total, yen(0));
    let json = to_json(&report).unwrap();
    assert!(json.contains("\"kind\": \"cash_short\""), "{json}");
    assert!(json.contains("\"brand\": \"VISA\""));
}

#[test]
fn csv_files_have_a_byte_order_mark_and_crlf() {
    let report = day_with_discrepancies(RevenueRule::Shiyoryo);
    let files = csv::day_report_files(&report);
    let names: Vec<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "SHIMIN-2026-11-24-revenue.csv",
            "SHIMIN-2026-11-24-refunds.csv",
            "SHIMIN-2026-11-24-cash.csv",
            "SHIMIN-2026-11-24-cashless.csv",
            "SHIMIN-2026-11-24-due.csv",
            "SHIMIN-2026-11-24-difference.csv",
            "SHIMIN-2026-11-24-exceptions.csv"
        ]
    );
    for (name, bytes) in &files {
        assert!(bytes.starts_with(csv::UTF8_BYTE_ORDER_MARK), "{name}");
        let text = std::str::from_utf8(&bytes[3..]).unwrap();
        assert!(text.ends_with("\r\n"), "{name}");
        assert_eq!(text.matches('\n').count(), text.matches("\r\n").count(), "{name}: bare LF");
        assert!(text.lines().last().unwrap().starts_with("合計 / Total"), "{name}");
    }
    let cash = files.iter().find(|(name, _)| name.ends_with("-cash.csv")).unwrap();
    let cash = String::from_utf8(cash.1[3..].to_vec()).unwrap();
    assert!(cash.contains("\r\n合計 / Total,,30000,900,0,30900,30800,-100,800\r\n"), "{cash}");
}

#[test]
fn the_html_page_is_self_contained_and_lists_the_exceptions() {
    let report = day_with_discrepancies(RevenueRule::Shiyoryo);
    let page = html::day_report_page(&report);
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("@media print"));
    assert!(!page.contains("http://") && !page.contains("https://") && !page.contains("<script"));
    assert!(page.contains("現金不足") && page.contains("Cash short"));
    // The missing payment is named as treasury finds it: register, time, brand, amount, receipt.
    let receipt = receipt_of("PAY-CARD-2");
    assert!(page.contains("精算データ未着"), "{page}");
    assert!(page.contains(&format!("R0010001 2026-11-24 11:00:00 の JCB 5,000円（領収書 {receipt}）")), "{page}");
    assert!(page.contains("例外 / Exceptions (2 件)"));
    assert!(page.contains("日計表 / Daily report"));
}

#[test]
fn summaries_and_the_accounting_export_add_up() {
    let city_day = day_with_discrepancies(RevenueRule::Shiyoryo);
    let operator_day = day_with_discrepancies(RevenueRule::RiyoRyokin);
    let config = config_with(RevenueRule::RiyoRyokin);
    let reports = vec![city_day.clone(), operator_day.clone()];
    let bank = BankReport::build(&Default::default(), &Default::default()).unwrap();
    let city = CitySummary::build(&reports, &bank, &config).unwrap();
    check_city_summary(&city).unwrap();
    assert_eq!(city.total.revenue, yen(2 * 8_170));
    assert_eq!(city.total.exceptions_count, 4);
    let operators = OperatorSummary::build(&reports, &config).unwrap();
    check_operator_summary(&operators).unwrap();
    assert_eq!(operators.groups.len(), 1);
    assert_eq!(operators.groups[0].owner, "SPORTS-CO");
    assert_eq!(operators.total.revenue, yen(2 * 8_170));
    let table = csv::operator_summary(&operators).to_bytes();
    assert!(String::from_utf8(table).unwrap().contains("小計 / Subtotal SPORTS-CO"));

    let entries = journal_entries(&city_day, &config, &Default::default()).unwrap();
    check_journal_entries(&entries).unwrap();
    check_receivables(std::slice::from_ref(&city_day), &entries, &config).unwrap();
    let credit_revenue: i64 =
        entries.iter().filter(|entry| entry.account_code == REVENUE_ACCOUNT).map(|entry| entry.credit.get()).sum();
    assert_eq!(credit_revenue, 8_170, "revenue is booked gross");
    let fees: i64 =
        entries.iter().filter(|entry| entry.account_code == "EXPENSE-FEES").map(|entry| entry.debit.get()).sum();
    assert_eq!(fees, city_day.cashless.fee_total.get());
    assert!(entries.iter().any(|entry| entry.account_code == "LOSS-CASH-SHORT" && entry.debit == yen(100)));
    let bytes = csv::journal_entries(&entries).to_bytes();
    assert!(bytes.starts_with(b"\xEF\xBB\xBFdate,account_code,debit,credit,amount,facility,payout,description\r\n"));
}

#[test]
fn a_report_whose_total_is_not_its_lines_is_caught() {
    let mut report = day_with_discrepancies(RevenueRule::Shiyoryo);
    report.revenue.amount_total = yen(8_171);
    let error = check_day_report(&report).unwrap_err();
    assert_eq!(error.to_string(), "日計表 SHIMIN 2026-11-24: revenue amount is ¥8,171, but its lines sum to ¥8,170");
}
