//! Settlement files of a small hand-made day, byte for byte.

use acquirer_sim::{Centre, FeeTerm};
use chrono::NaiveDate;
use iso8583::fields;
use pos_core::{Brand, Rate, Rounding};

use crate::support::*;

fn fee(brand: Brand, percent: &str, rounding: Rounding) -> FeeTerm {
    FeeTerm::new(brand, Rate::parse_percent(percent).unwrap(), rounding)
}

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()
}

#[tokio::test]
async fn the_card_file_of_a_day_is_exactly_as_protocols_4_1_says() {
    let fees = vec![
        fee(Brand::Visa, "3.24%", Rounding::Truncate),
        fee(Brand::Jcb, "3.24%", Rounding::Truncate),
        fee(Brand::Amex, "3.5%", Rounding::HalfUp),
    ];
    let sim = start_sim_with(Centre::Card, fees, 2).await;
    let mut client = Client::connect(&sim).await;

    sim.clock.set(jst(24, 10, 15, 2));
    assert_eq!(code_of(&client.request(&purchase("000123", 1500)).await), "00");
    sim.clock.set(jst(24, 10, 20, 0));
    assert_eq!(code_of(&client.request(&card_purchase("000124", 4700, "AMEX", "378282246310005")).await), "00");
    sim.clock.set(jst(24, 11, 0, 0));
    assert_eq!(code_of(&client.request(&purchase("000125", 9051)).await), "51");
    sim.clock.set(jst(24, 12, 30, 0));
    let voided = card_purchase("000126", 3000, "JCB", "3530111333300000");
    assert_eq!(code_of(&client.request(&voided).await), "00");
    sim.clock.set(jst(24, 12, 30, 30));
    assert_eq!(code_of(&client.request(&reversal(&voided, "000127", false)).await), "00");
    sim.clock.set(jst(24, 15, 40, 11));
    let refund = client.request(&card_refund("000131", 1500, "632810000001")).await;
    assert_eq!(refund.text(fields::RETRIEVAL_REFERENCE), Some("632810000005"));
    // The next day's sale is in the next day's file.
    sim.clock.set(jst(25, 9, 0, 0));
    assert_eq!(code_of(&client.request(&purchase("000140", 800)).await), "00");

    let dir = tempfile::tempdir().unwrap();
    let path = sim.handle.write_settlement(day(), dir.path()).unwrap();
    assert_eq!(path, dir.path().join("card-settlement-20261124.csv"));
    let expected = concat!(
        "record_type,settlement_date,payout_id,payout_date,merchant_id,terminal_id,transaction_time,stan,rrn,auth_code,brand,masked_pan,gross_amount,fee_amount,net_amount,original_rrn\r\n",
        "SALE,2026-11-24,P20261126-001,2026-11-26,000000000010001,T0010001,2026-11-24T10:15:02+09:00,000123,632810000001,7WDRQP,VISA,411111******1111,1500,48,1452,\r\n",
        "SALE,2026-11-24,P20261126-001,2026-11-26,000000000010001,T0010001,2026-11-24T10:20:00+09:00,000124,632810000002,FSRJHE,AMEX,378282*****0005,4700,165,4535,\r\n",
        "REFUND,2026-11-24,P20261126-001,2026-11-26,000000000010001,T0010001,2026-11-24T15:40:11+09:00,000131,632810000005,,VISA,411111******1111,-1500,-48,-1452,632810000001\r\n",
        "TOTAL,2026-11-24,P20261126-001,,,,,,,,,,4700,165,4535,\r\n",
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), expected);

    // A Friday's payout skips the weekend; the file of a day without business has only the trailer.
    let friday = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
    let empty = std::fs::read_to_string(sim.handle.write_settlement(friday, dir.path()).unwrap()).unwrap();
    assert!(empty.ends_with("\r\nTOTAL,2026-11-27,P20261201-001,,,,,,,,,,0,0,0,\r\n"), "{empty}");
}

#[tokio::test]
async fn planted_mistakes_leave_a_sale_out_and_charge_a_fee_off_the_contract() {
    let fees = vec![fee(Brand::Visa, "3.24%", Rounding::Truncate), fee(Brand::Amex, "3.5%", Rounding::HalfUp)];
    let sim = start_sim_with(Centre::Card, fees, 2).await;
    let mut client = Client::connect(&sim).await;
    sim.clock.set(jst(24, 10, 15, 2));
    assert_eq!(code_of(&client.request(&purchase("000123", 1500)).await), "00");
    sim.clock.set(jst(24, 10, 20, 0));
    assert_eq!(code_of(&client.request(&card_purchase("000124", 4700, "AMEX", "378282246310005")).await), "00");
    sim.clock.set(jst(24, 10, 25, 0));
    assert_eq!(code_of(&client.request(&purchase("000125", 800)).await), "00");

    let faults = acquirer_sim::SettlementFaults {
        omit_rrns: ["632810000001".to_string()].into(),
        fee_offsets: [("632810000002".to_string(), 1)].into(),
    };
    let dir = tempfile::tempdir().unwrap();
    let path = sim.handle.write_settlement_with(day(), dir.path(), &faults).unwrap();
    // The first sale is gone, the AMEX fee is 165 + 1, and the trailer adds up what is written.
    let expected = concat!(
        "record_type,settlement_date,payout_id,payout_date,merchant_id,terminal_id,transaction_time,stan,rrn,auth_code,brand,masked_pan,gross_amount,fee_amount,net_amount,original_rrn\r\n",
        "SALE,2026-11-24,P20261126-001,2026-11-26,000000000010001,T0010001,2026-11-24T10:20:00+09:00,000124,632810000002,FSRJHE,AMEX,378282*****0005,4700,166,4534,\r\n",
        "SALE,2026-11-24,P20261126-001,2026-11-26,000000000010001,T0010001,2026-11-24T10:25:00+09:00,000125,632810000003,NP5B83,VISA,411111******1111,800,25,775,\r\n",
        "TOTAL,2026-11-24,P20261126-001,,,,,,,,,,5500,191,5309,\r\n",
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), expected);
    // Without faults the same ledger writes every sale at the contracted fee.
    let clean = std::fs::read_to_string(sim.handle.write_settlement(day(), dir.path()).unwrap()).unwrap();
    assert!(clean.ends_with("TOTAL,2026-11-24,P20261126-001,,,,,,,,,,7000,238,6762,\r\n"), "{clean}");
}

#[tokio::test]
async fn the_emoney_file_of_a_day_is_shift_jis_as_protocols_4_3_says() {
    let sim = start_sim_with(Centre::Emoney, acquirer_sim::default_fees(Centre::Emoney), 3).await;
    let mut client = Client::connect(&sim).await;

    sim.clock.set(jst(24, 10, 15, 2));
    assert_eq!(code_of(&client.request(&emoney_purchase("000124", 470, "TRANSIT", "JE80****5678")).await), "00");
    sim.clock.set(jst(24, 10, 30, 11));
    let unknown = emoney_purchase("000125", 9099, "WAON", "6900****0001");
    assert_eq!(code_of(&client.request(&unknown).await), "Y1");
    sim.clock.set(jst(24, 11, 0, 0));
    let voided = emoney_purchase("000126", 1000, "NANACO", "NC01****0003");
    let voided_sale = client.request(&voided).await;
    assert_eq!(code_of(&voided_sale), "00");
    sim.clock.set(jst(24, 11, 0, 20));
    assert_eq!(code_of(&client.request(&reversal(&voided, "000129", false)).await), "00");
    sim.clock.set(jst(24, 12, 0, 0));
    assert_eq!(code_of(&client.request(&emoney_purchase("000127", 9051, "EDY", "EDY0****0004")).await), "51");
    sim.clock.set(jst(24, 13, 0, 0));
    let refund = emoney_refund("000128", 600, "WAON", "6900****0009", "632820000001");
    assert_eq!(code_of(&client.request(&refund).await), "00");
    sim.clock.set(jst(24, 14, 0, 0));
    assert_eq!(code_of(&client.request(&reversal(&unknown, "000130", false)).await), "00");
    sim.clock.set(jst(24, 15, 0, 0));
    assert_eq!(code_of(&client.request(&emoney_purchase("000131", 300, "ID", "ID00****0005")).await), "00");
    assert_eq!(code_of(&client.request(&emoney_purchase("000132", 300, "QUICPAY", "QP00****0006")).await), "00");

    let dir = tempfile::tempdir().unwrap();
    let path = sim.handle.write_settlement(day(), dir.path()).unwrap();
    assert_eq!(path, dir.path().join("emoney-settlement-20261124.csv"));
    let expected = concat!(
        "利用日,利用時刻,加盟店番号,端末番号,ブランド,取引区分,取引通番,カードID,金額,手数料,精算日\r\n",
        "20261124,101502,000000000010001,T0010001,交通系IC,売上,000124,JE80****5678,470,14,20261127\r\n",
        "20261124,103011,000000000010001,T0010001,WAON,処理未了,000125,6900****0001,9099,0,20261127\r\n",
        "20261124,110000,000000000010001,T0010001,nanaco,売上,000126,NC01****0003,1000,30,20261127\r\n",
        "20261124,110020,000000000010001,T0010001,nanaco,取消,000126,NC01****0003,-1000,-30,20261127\r\n",
        "20261124,130000,000000000010001,T0010001,WAON,取消,000128,6900****0009,-600,-18,20261127\r\n",
        "20261124,140000,000000000010001,T0010001,WAON,取消,000125,6900****0001,-9099,0,20261127\r\n",
        "20261124,150000,000000000010001,T0010001,iD,売上,000131,ID00****0005,300,9,20261127\r\n",
        "20261124,150000,000000000010001,T0010001,QUICPay,売上,000132,QP00****0006,300,9,20261127\r\n",
    );
    let bytes = std::fs::read(&path).unwrap();
    assert!(std::str::from_utf8(&bytes).is_err(), "the file is Shift_JIS, not UTF-8");
    // 売上 in Shift_JIS.
    assert!(bytes.windows(4).any(|w| w == [0x94, 0x84, 0x8F, 0xE3]));
    let (decoded, _, malformed) = encoding_rs::SHIFT_JIS.decode(&bytes);
    assert!(!malformed);
    assert_eq!(decoded, expected);

    // 楽天Edy is named as the centre names it.
    sim.clock.set(jst(25, 9, 0, 0));
    assert_eq!(code_of(&client.request(&emoney_purchase("000133", 500, "EDY", "EDY0****0007")).await), "00");
    let next =
        std::fs::read(sim.handle.write_settlement(NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(), dir.path()).unwrap())
            .unwrap();
    let (next, _, _) = encoding_rs::SHIFT_JIS.decode(&next);
    assert!(next.contains(",楽天Edy,売上,000133,EDY0****0007,500,15,20261130\r\n"), "{next}");
}

#[tokio::test]
async fn a_brand_without_a_fee_term_fails_the_file() {
    let sim = start_sim_with(Centre::Card, vec![fee(Brand::Visa, "3%", Rounding::Truncate)], 2).await;
    let mut client = Client::connect(&sim).await;
    assert_eq!(code_of(&client.request(&card_purchase("000001", 1000, "JCB", "3530111333300000")).await), "00");
    let dir = tempfile::tempdir().unwrap();
    let error = sim.handle.write_settlement(day(), dir.path()).unwrap_err();
    assert_eq!(error.to_string(), "no fee term for brand JCB: the settlement file cannot compute its fee");
    assert!(!dir.path().join("card-settlement-20261124.csv").exists());
}
