//! Generated days: settlements and bank credits generated from the journal with the contracted
//! fees reconcile with no exception; each single injected discrepancy gives exactly the one
//! expected exception, on the facility-day or on the city's list; and a day with several
//! planted differences at once has exceptions that sum to exactly the planted net difference,
//! signed by the one rule (the effect on the city's money). Every result's totals are checked
//! by the reconcile helper (sums of lines, exceptions against the net difference, each payout's
//! receivable against its net).

use pos_core::{Brand, Method};
use proptest::prelude::*;
use reconciler::exceptions::ExceptionKind;
use reconciler::inputs::bank::BankTransactionKind;
use reconciler::inputs::card::CardRecordType;
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

/// A difference planted in a day, with its effect on the city's money under the one sign rule.
#[derive(Debug, Clone, Copy)]
enum Plant {
    /// The card line of a payment left out (due long ago): −its gross.
    DropLine,
    /// A card line's gross raised by `k`, at the contracted fee on the new gross: +k.
    AmountUp(i64),
    /// A card line repeated: +its gross.
    Duplicate,
    /// A card line's fee `k` above the contract: −k; below it: +k.
    FeeOff(i64),
    /// A card sale of `k` no journal payment explains: +k.
    Unknown(i64),
    /// A chargeback of a card line's payment: −its gross (fee given back 0).
    Chargeback,
    /// The drawer counted `k` off (over when positive).
    CashOff(i64),
    /// An unexplained credit of `k` from the facility's depositor: +k.
    StrayCredit(i64),
    /// The cash deposit credited `k` off what was counted.
    DepositOff(i64),
    /// The card payout credited `k` off its lines' net (the city's list): +k or −k.
    PayoutOff(i64),
    /// An unexplained bank debit of `k` (the city's list): −k.
    StrayDebit(i64),
}

fn plant_strategy() -> impl Strategy<Value = Plant> {
    prop_oneof![
        Just(Plant::DropLine),
        (1..500i64).prop_map(Plant::AmountUp),
        Just(Plant::Duplicate),
        (-30..30i64).prop_filter("a fee off by something", |k| *k != 0).prop_map(Plant::FeeOff),
        (1..20_000i64).prop_map(Plant::Unknown),
        Just(Plant::Chargeback),
        (-3_000..3_000i64).prop_filter("off by something", |k| *k != 0).prop_map(Plant::CashOff),
        (1..9_000i64).prop_map(Plant::StrayCredit),
        (-500..500i64).prop_filter("off by something", |k| *k != 0).prop_map(Plant::DepositOff),
        (-500..500i64).prop_filter("off by something", |k| *k != 0).prop_map(Plant::PayoutOff),
        (1..9_000i64).prop_map(Plant::StrayDebit),
    ]
}

/// Planted differences: (on the facility-day, on the city's list).
#[derive(Debug, Default)]
struct Planted {
    facility: i64,
    city: i64,
}

/// Plants every difference into the day; each line plant takes a card line of its own, so that
/// no two plants meet on one line. Returns what the plants must add up to.
fn plant(
    plants: &[Plant],
    journal: &mut DayJournal,
    settlements: &mut Settlements,
    bank: &mut Vec<reconciler::inputs::bank::StatementEntry>,
) -> Planted {
    let config = config();
    let mut planted = Planted::default();
    let original = settlements.card[0].settlement.records.clone();
    let mut records = original.clone();
    let mut free: Vec<usize> = (0..original.len()).collect();
    let mut dropped = Vec::new();
    let mut extra_line = 100u64;
    let mut extra_stan = 900_000u32;
    for plant in plants {
        let line_plant = matches!(
            plant,
            Plant::DropLine | Plant::AmountUp(_) | Plant::Duplicate | Plant::FeeOff(_) | Plant::Chargeback
        );
        let index = if line_plant {
            match free.pop() {
                Some(index) => index,
                None => continue,
            }
        } else {
            0
        };
        match *plant {
            Plant::DropLine => {
                planted.facility -= original[index].amount_gross.get();
                dropped.push(index);
            }
            Plant::AmountUp(k) => {
                let record = &mut records[index];
                record.amount_gross = yen(record.amount_gross.get() + k);
                record.amount_fee = contracted_fee(&config, record.brand, record.amount_gross);
                record.amount_net = record.amount_gross.checked_sub(record.amount_fee).unwrap();
                planted.facility += k;
            }
            Plant::Duplicate => {
                let mut copy = original[index].clone();
                copy.line = extra_line;
                extra_line += 1;
                records.push(copy);
                planted.facility += original[index].amount_gross.get();
            }
            Plant::FeeOff(k) => {
                let record = &mut records[index];
                record.amount_fee = yen(record.amount_fee.get() + k);
                record.amount_net = yen(record.amount_net.get() - k);
                planted.facility -= k;
            }
            Plant::Chargeback => {
                let gross = original[index].amount_gross.get();
                let mut chargeback = card_record(
                    &config,
                    extra_line,
                    CardRecordType::Chargeback,
                    original[index].brand,
                    "2026-11-24T20:00:00",
                    &format!("{extra_stan:06}"),
                    &format!("6329{extra_stan:08}"),
                    -gross,
                    Some(original[index].rrn.as_str()),
                );
                chargeback.amount_fee = yen(0);
                chargeback.amount_net = yen(-gross);
                records.push(chargeback);
                extra_line += 1;
                extra_stan += 1;
                planted.facility -= gross;
            }
            Plant::Unknown(k) => {
                let unknown = card_record(
                    &config,
                    extra_line,
                    CardRecordType::Sale,
                    Brand::Visa,
                    "2026-11-24T21:00:00",
                    &format!("{extra_stan:06}"),
                    &format!("6329{extra_stan:08}"),
                    k,
                    None,
                );
                records.push(unknown);
                extra_line += 1;
                extra_stan += 1;
                planted.facility += k;
            }
            Plant::CashOff(k) => {
                let shift = &mut journal.shifts[0];
                shift.cash_counted = Some(yen(shift.cash_counted.unwrap().get() + k));
                planted.facility += k;
            }
            Plant::StrayCredit(k) => {
                bank.push(credit(
                    50 + bank.len() as u64,
                    "2026-11-25",
                    BankTransactionKind::Cash,
                    FACILITY_DEPOSITOR,
                    k,
                    "",
                ));
                planted.facility += k;
            }
            Plant::DepositOff(k) => planted.facility += k,
            Plant::PayoutOff(k) => planted.city += k,
            Plant::StrayDebit(k) => {
                let mut debit =
                    credit(80 + bank.len() as u64, "2026-11-27", BankTransactionKind::Transfer, "ｿﾉﾀ", k, "");
                debit.direction = reconciler::inputs::bank::Direction::Debit;
                bank.push(debit);
                planted.city -= k;
            }
        }
    }
    dropped.sort_unstable();
    for index in dropped.into_iter().rev() {
        records.remove(index);
    }
    settlements.card[0] = card_file(&settlements.card[0].name, records);
    planted
}

/// The bank as the payers would pay it, after the plants: the card payout with its file's net
/// (off by the plant), the cash deposit with what was counted (off by the plant).
fn pay(
    plants: &[Plant],
    settlements: &Settlements,
    journal: &DayJournal,
    stray: Vec<reconciler::inputs::bank::StatementEntry>,
) -> Vec<reconciler::inputs::bank::StatementEntry> {
    let mut bank = bank_for(settlements, journal);
    for plant in plants {
        match *plant {
            Plant::PayoutOff(k) => {
                if let Some(entry) = bank.iter_mut().find(|entry| entry.payer_name == CARD_DEPOSITOR) {
                    entry.amount = yen(entry.amount.get() + k);
                }
            }
            Plant::DepositOff(k) => {
                if let Some(entry) = bank.iter_mut().find(|entry| entry.payer_name == FACILITY_DEPOSITOR) {
                    entry.amount = yen(entry.amount.get() + k);
                }
            }
            _ => {}
        }
    }
    bank.extend(stray);
    bank
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn generated_day_reconciles_without_exceptions(spec in day_strategy()) {
        let config = config();
        let journal = build_journal(&spec);
        let settlements = settlements_for(&config, &journal);
        let bank = bank_for(&settlements, &journal);
        let (result, city) = reconcile_with_bank(&config, &journal, &settlements, &bank, AS_OF);
        prop_assert_eq!(result.exceptions, vec![]);
        prop_assert_eq!(city.exceptions, vec![]);
        prop_assert!(result.timing_differences.is_empty());
        let total: i64 = spec.iter().map(|&(_, amount)| amount).sum();
        prop_assert_eq!(result.revenue_total, yen(total));
        prop_assert_eq!(result.difference.net_difference, yen(0));
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
            Injection::DropBankPayout => {
                bank.retain(|entry| entry.payer_name != CARD_DEPOSITOR);
                // The statement reaches past the payout's window (a bank charge on 1 December),
                // so the missing credit is known to be missing.
                let mut charge = credit(70, "2026-12-01", BankTransactionKind::Other, "", 440, "");
                charge.direction = reconciler::inputs::bank::Direction::Debit;
                bank.push(charge);
            }
            Injection::TrailerOff => {
                let trailer = &mut settlements.card[0].settlement.trailer;
                trailer.amount_net = yen(trailer.amount_net.get() + 1);
            }
            _ => {}
        }
        let (result, city) = reconcile_with_bank(&config, &journal, &settlements, &bank, AS_OF);
        let city_kinds: Vec<ExceptionKind> = city.exceptions.iter().map(|exception| exception.kind).collect();
        let (on_the_day, on_the_city) = match injection {
            Injection::DropLine => (vec![ExceptionKind::MissingInSettlement], vec![]),
            Injection::AmountPlusOne => (vec![ExceptionKind::AmountMismatch], vec![]),
            Injection::DuplicateLine => (vec![ExceptionKind::Duplicate], vec![]),
            Injection::FeeOffByOne => (vec![ExceptionKind::FeeMismatch], vec![]),
            Injection::DropBankPayout => (vec![], vec![ExceptionKind::BankDepositMissing]),
            Injection::CashShort(_) => (vec![ExceptionKind::CashShort], vec![]),
            Injection::TrailerOff => (vec![], vec![ExceptionKind::PayoutMismatch]),
        };
        prop_assert_eq!(kinds(&result), on_the_day, "{:?}", result.exceptions);
        prop_assert_eq!(city_kinds, on_the_city, "{:?}", city.exceptions);
    }

    #[test]
    fn planted_differences_are_the_exceptions_sum(
        spec in day_strategy(),
        plants in prop::collection::vec(plant_strategy(), 1..8),
    ) {
        let config = config();
        let mut journal = build_journal(&spec);
        let mut settlements = settlements_for(&config, &journal);
        let mut stray = Vec::new();
        let planted = plant(&plants, &mut journal, &mut settlements, &mut stray);
        // A deposit off only plants something when the day has cash to deposit.
        let deposit: i64 = journal.shifts.iter().map(|shift| shift.cash_counted.unwrap().get() - shift.float_opening.get()).sum();
        prop_assume!(deposit > 0 || !plants.iter().any(|plant| matches!(plant, Plant::DepositOff(_))));
        // A payout off only plants something when the card file pays anything.
        let card_net: i64 = settlements.card[0].settlement.records.iter().map(|record| record.amount_net.get()).sum();
        prop_assume!(card_net > 0 || !plants.iter().any(|plant| matches!(plant, Plant::PayoutOff(_))));
        prop_assume!(deposit > 500 || !plants.iter().any(|plant| matches!(plant, Plant::DepositOff(_))));
        prop_assume!(card_net > 500 || !plants.iter().any(|plant| matches!(plant, Plant::PayoutOff(_))));
        let bank = pay(&plants, &settlements, &journal, stray);
        let (result, city) = reconcile_with_bank(&config, &journal, &settlements, &bank, AS_OF);
        let sum: i64 = result.exceptions.iter().map(|exception| exception.amount_at_stake.get()).sum();
        prop_assert_eq!(sum, planted.facility, "{:?} gave {:#?}", plants, result.exceptions);
        prop_assert_eq!(result.difference.net_difference.get(), planted.facility);
        let city_sum: i64 = city.exceptions.iter().map(|exception| exception.amount_at_stake.get()).sum();
        prop_assert_eq!(city_sum, planted.city, "{:?} gave {:#?}", plants, city.exceptions);
    }
}
