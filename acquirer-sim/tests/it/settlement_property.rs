//! Whatever the day's ledger, the card file's TOTAL is the sum of its rows, each row's net is
//! gross − fee, and exactly the approved entries of that date appear.

use acquirer_sim::settlement::card;
use acquirer_sim::{EntryKind, EntryState, FeeTerm, LedgerEntry};
use chrono::{Duration, NaiveDate, TimeZone};
use iso8583::ResponseCode;
use pos_core::{Brand, Rate, Rounding, Yen};
use proptest::prelude::*;
use rust_decimal::Decimal;

const CARD_BRANDS: [Brand; 5] = [Brand::Visa, Brand::Mastercard, Brand::Jcb, Brand::Amex, Brand::UnionPay];

fn any_rounding() -> impl Strategy<Value = Rounding> {
    prop_oneof![
        Just(Rounding::Truncate),
        Just(Rounding::Floor),
        Just(Rounding::Ceiling),
        Just(Rounding::HalfUp),
        Just(Rounding::HalfEven),
    ]
}

fn any_fees() -> impl Strategy<Value = Vec<FeeTerm>> {
    proptest::collection::vec((0i64..=1_000, any_rounding()), 5).prop_map(|terms| {
        terms
            .into_iter()
            .zip(CARD_BRANDS)
            .map(|((basis_points, rounding), brand)| {
                FeeTerm::new(brand, Rate::from_fraction(Decimal::new(basis_points, 4)).unwrap(), rounding)
            })
            .collect()
    })
}

fn any_state() -> impl Strategy<Value = EntryState> {
    prop_oneof![
        4 => Just(EntryState::Approved),
        1 => Just(EntryState::Declined(ResponseCode::InsufficientFunds)),
        1 => Just(EntryState::Reversed),
    ]
}

/// Entries spread over the day before, the day, and the day after (seconds from 00:00 JST of
/// the day before).
fn any_entries() -> impl Strategy<Value = Vec<LedgerEntry>> {
    let entry = (1i64..=10_000_000, any::<bool>(), any_state(), 0usize..5, 0i64..3 * 86_400);
    proptest::collection::vec(entry, 0..40).prop_map(|specs| {
        let start = pos_core::time::jst().with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap();
        specs
            .into_iter()
            .enumerate()
            .map(|(index, (amount, refund, state, brand, seconds))| LedgerEntry {
                terminal_id: "T0010001".to_string(),
                merchant_id: "000000000010001".to_string(),
                stan: format!("{:06}", index + 1),
                rrn: format!("6328100{:05}", index + 1),
                auth_code: (!refund).then(|| "A1B2C3".to_string()),
                brand: CARD_BRANDS[brand],
                masked_pan_or_card_id: "411111******1111".to_string(),
                amount: Yen::new(amount).unwrap(),
                kind: if refund { EntryKind::Refund } else { EntryKind::Sale },
                state,
                at: start + Duration::seconds(seconds),
                original_rrn: refund.then(|| "632810000001".to_string()),
                response_code: ResponseCode::Approved,
                reversed_at: None,
            })
            .collect()
    })
}

proptest! {
    #[test]
    fn total_is_the_sum_of_the_rows(entries in any_entries(), fees in any_fees(), lag in 0u32..10) {
        let date = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        let text = card::render(&entries, date, &fees, lag).unwrap();
        prop_assert!(text.ends_with("\r\n"));
        let lines: Vec<&str> = text.strip_suffix("\r\n").unwrap().split("\r\n").collect();
        prop_assert_eq!(lines[0], card::HEADER);
        let (trailer, rows) = lines[1..].split_last().unwrap();
        let expected_rows = entries
            .iter()
            .filter(|e| e.state == EntryState::Approved && e.at.date_naive() == date)
            .count();
        prop_assert_eq!(rows.len(), expected_rows);
        let (mut gross, mut fee, mut net) = (0i64, 0i64, 0i64);
        for row in rows {
            let columns: Vec<&str> = row.split(',').collect();
            prop_assert_eq!(columns.len(), 16);
            let values: Vec<i64> = columns[12..15].iter().map(|v| v.parse().unwrap()).collect();
            prop_assert_eq!(values[0] - values[1], values[2]);
            prop_assert_eq!(values[0] < 0, columns[0] == "REFUND");
            gross += values[0];
            fee += values[1];
            net += values[2];
        }
        let columns: Vec<&str> = trailer.split(',').collect();
        prop_assert_eq!(columns.len(), 16);
        prop_assert_eq!(columns[0], "TOTAL");
        prop_assert_eq!(columns[12].parse::<i64>().unwrap(), gross);
        prop_assert_eq!(columns[13].parse::<i64>().unwrap(), fee);
        prop_assert_eq!(columns[14].parse::<i64>().unwrap(), net);
    }
}
