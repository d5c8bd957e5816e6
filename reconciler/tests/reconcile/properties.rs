//! Generated days: settlements and bank credits generated from the journal with the contracted
//! fees reconcile with no exception; each single injected discrepancy gives exactly the one
//! expected exception, and every result's totals are the sums of their lines.

use pos_core::{Brand, Method};
use proptest::prelude::*;
use reconciler::exceptions::ExceptionKind;
use reconciler::journal::{DayJournal, JournalPayment};
use reconciler::settlements::Settlements;

use super::support::*;

const AS_OF: &str = "2026-12-10";
const BRANDS: [Brand; 6] = [Brand::Visa, Brand::Jcb, Brand::TransitIc, Brand::Waon, Brand::PayPay, Brand::Cash];

/// A day of payments, one a minute from 09:00, with distinct trace numbers and RRNs.
fn day_strategy() -> impl Strategy<Value = Vec<(usize, i64)>> {
    prop::collection::vec((0..BRANDS.len(), 1..50_000i64), 1..24)
}

fn build_journal(spec: &[(usize, i64)]) -> DayJournal {
    let payments: Vec<JournalPayment> = spec
        .iter()
        .enumerate()
        .map(|(index, &(brand, amount))| {
            let brand = BRANDS[brand];
            let time = format!("2026-11-24T{:02}:{:02}:00", 9 + index / 60, index % 60);
            let stan = if matches!(brand.method(), Method::Card | Method::Emoney) {
                format!("{:06}", index + 1)
            } else {
                String::new()
            };
            let rrn = format!("6328100{:05}", index + 1);
            let rrn = (brand.method() == Method::Card).then_some(rrn.as_str());
            payment(&format!("P{index}"), brand, amount, &time, &stan, rrn)
        })
        .collect();
    journal("2026-11-24", payments, None)
}

/// One discrepancy injected into a generated day.
#[derive(Debug, Clone, Copy)]
enum Injection {
    DropLine,
    AmountPlusOne,
    DuplicateLine,
    FeeOffByOne,
    DropBankPayout,
    CashShort(i64),
    TrailerOff,
}

fn injection_strategy() -> impl Strategy<Value = Injection> {
    prop_oneof![
        Just(Injection::DropLine),
        Just(Injection::AmountPlusOne),
        Just(Injection::DuplicateLine),
        Just(Injection::FeeOffByOne),
        Just(Injection::DropBankPayout),
        (1..5_000i64).prop_map(Injection::CashShort),
        Just(Injection::TrailerOff),
    ]
}

/// Applies a settlement injection to the card line chosen (the card file is the one with a
/// trailer and RRNs, so every kind of injection applies to it).
fn inject_card(settlements: &mut Settlements, injection: Injection, pick: usize) -> bool {
    let config = config();
    let mut records = settlements.card[0].settlement.records.clone();
    if records.is_empty() {
        return false;
    }
    let index = pick % records.len();
    match injection {
        Injection::DropLine => {
            records.remove(index);
        }
        Injection::AmountPlusOne => {
            let record = &mut records[index];
            record.amount_gross = yen(record.amount_gross.get() + 1);
            record.amount_fee = contracted_fee(&config, record.brand, record.amount_gross);
            record.amount_net = record.amount_gross.checked_sub(record.amount_fee).unwrap();
        }
        Injection::DuplicateLine => {
            let mut copy = records[index].clone();
            copy.line = records.len() as u64 + 2;
            records.push(copy);
        }
        Injection::FeeOffByOne => {
            let record = &mut records[index];
            record.amount_fee = yen(record.amount_fee.get() + 1);
            record.amount_net = yen(record.amount_net.get() - 1);
        }
        Injection::DropBankPayout | Injection::CashShort(_) | Injection::TrailerOff => {}
    }
    settlements.card[0] = card_file(&settlements.card[0].name, records);
    true
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn generated_day_reconciles_without_exceptions(spec in day_strategy()) {
        let config = config();
        let journal = build_journal(&spec);
        let settlements = settlements_for(&config, &journal);
        let bank = bank_for(&settlements, &journal);
        let result = reconcile(&config, &journal, &settlements, &bank, AS_OF);
        prop_assert_eq!(result.exceptions, vec![]);
        prop_assert!(result.timing_differences.is_empty());
        let total: i64 = spec.iter().map(|&(_, amount)| amount).sum();
        prop_assert_eq!(result.revenue_total, yen(total));
    }

    #[test]
    fn one_injected_discrepancy_gives_one_exception(
        spec in day_strategy(),
        injection in injection_strategy(),
        pick in 0..1_000usize,
    ) {
        let config = config();
        let has_card = spec.iter().any(|&(brand, _)| BRANDS[brand].method() == Method::Card);
        prop_assume!(has_card);
        let mut journal = build_journal(&spec);
        let mut settlements = settlements_for(&config, &journal);
        prop_assert!(inject_card(&mut settlements, injection, pick));
        if let Injection::CashShort(amount) = injection {
            journal.shifts[0].cash_counted = Some(yen(journal.shifts[0].cash_counted.unwrap().get() - amount));
        }
        let mut bank = bank_for(&settlements, &journal);
        match injection {
            Injection::DropBankPayout => bank.retain(|entry| entry.payer_name != CARD_DEPOSITOR),
            Injection::TrailerOff => {
                let trailer = &mut settlements.card[0].settlement.trailer;
                trailer.amount_net = yen(trailer.amount_net.get() + 1);
            }
            _ => {}
        }
        let result = reconcile(&config, &journal, &settlements, &bank, AS_OF);
        let expected = match injection {
            Injection::DropLine => ExceptionKind::MissingInSettlement,
            Injection::AmountPlusOne => ExceptionKind::AmountMismatch,
            Injection::DuplicateLine => ExceptionKind::Duplicate,
            Injection::FeeOffByOne => ExceptionKind::FeeMismatch,
            Injection::DropBankPayout => ExceptionKind::BankDepositMissing,
            Injection::CashShort(_) => ExceptionKind::CashShort,
            Injection::TrailerOff => ExceptionKind::PayoutMismatch,
        };
        prop_assert_eq!(kinds(&result), vec![expected], "{:?}", result.exceptions);
    }
}
