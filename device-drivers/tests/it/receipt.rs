//! The city's receipt: Shift_JIS round trip, card data, reprint marking, and that the encoded
//! bytes print exactly the rendered text.

use chrono::{TimeZone, Utc};
use device_drivers::printer::document::LineWidth;
use device_drivers::printer::escpos::{self, Command, DrawerPin};
use device_drivers::printer::receipt::{self, Issue, Receipt, ReceiptError, REPRINT_MARK};
use device_drivers::printer::text;
use pos_core::api::{PaymentView, ReceiptNumber, SaleLineView, SaleView};
use pos_core::{
    BusinessDate, FacilityId, FeeItemCode, FiscalYear, Method, PaymentState, RegisterId, SaleState, UserName, Yen,
};

pub const CITY: &str = "テスト市";
pub const FACILITY: &str = "市民課 証明書発行窓口";
pub const MASKED_CARD: &str = "411111******1111";

fn yen(value: i64) -> Yen {
    Yen::new(value).expect("test amount")
}

fn line(code: &str, name: &str, unit_price: i64, quantity: u32) -> SaleLineView {
    SaleLineView {
        fee_item: FeeItemCode::parse(code).expect("fee item"),
        name_ja: name.to_string(),
        unit_price: yen(unit_price),
        quantity,
        amount: yen(unit_price * i64::from(quantity)),
        revenue_account: "R-01".to_string(),
    }
}

fn payment(method: Method, brand: pos_core::Brand, amount: i64) -> PaymentView {
    let paid_at = Utc.with_ymd_and_hms(2026, 5, 12, 1, 31, 0).single().expect("instant");
    PaymentView {
        id: format!("pay-{}", brand.code()),
        sale_id: "sale-1".to_string(),
        method,
        brand: Some(brand),
        amount: yen(amount),
        tendered: None,
        change: None,
        state: PaymentState::Completed,
        created_at: paid_at,
        business_date: BusinessDate::of_instant(paid_at),
        terminal_id: None,
        masked_card: None,
        response_code: None,
        rrn: None,
        auth_code: None,
        note: None,
        refunded: yen(0),
    }
}

/// A paid sale: 住民票の写し × 2 and 戸籍全部事項証明書 × 1 (¥1,050), paid ¥300 in cash (¥1,000
/// tendered) and ¥750 by VISA.
pub fn paid_sale() -> SaleView {
    let paid_at = Utc.with_ymd_and_hms(2026, 5, 12, 1, 31, 0).single().expect("instant");
    let mut cash = payment(Method::Cash, pos_core::Brand::Cash, 300);
    cash.tendered = Some(yen(1_000));
    cash.change = Some(yen(700));
    let mut card = payment(Method::Card, pos_core::Brand::Visa, 750);
    card.masked_card = Some(MASKED_CARD.to_string());
    card.auth_code = Some("A1B2C3".to_string());
    card.rrn = Some("632810000123".to_string());
    let mut declined = payment(Method::Card, pos_core::Brand::Jcb, 750);
    declined.state = PaymentState::Declined;
    SaleView {
        id: "sale-1".to_string(),
        facility_id: FacilityId::parse("shimin-ka").expect("facility"),
        register_id: RegisterId::parse("R1").expect("register"),
        shift_id: "shift-1".to_string(),
        state: SaleState::Paid,
        business_date: BusinessDate::of_instant(paid_at),
        created_at: paid_at,
        created_by: UserName::parse("clerk1").expect("user"),
        amount_total: yen(1_050),
        amount_paid: yen(1_050),
        amount_due: yen(0),
        receipt: Some(ReceiptNumber { fiscal_year: FiscalYear::new(2026), number: 123 }),
        paid_at: Some(paid_at),
        voided_at: None,
        void_reason: None,
        lines: vec![line("JUMINHYO", "住民票の写し", 300, 2), line("KOSEKI-ZENBU", "戸籍全部事項証明書", 450, 1)],
        payments: vec![cash, declined, card],
    }
}

pub fn original_receipt() -> Receipt {
    Receipt::from_sale(&paid_sale(), FACILITY, CITY, Issue::Original).expect("receipt of a paid sale")
}

/// The text the printer prints from `bytes`: every Shift_JIS text run decoded, a line break at
/// each `LF`; every other command prints nothing.
pub fn printed_text(bytes: &[u8]) -> String {
    let mut printed = String::new();
    for command in escpos::parse(bytes).expect("only commands we send") {
        match command {
            Command::Text(run) => printed.push_str(&text::decode(&run)),
            Command::LineFeed => printed.push('\n'),
            _ => {}
        }
    }
    printed
}

/// Runs of 13 to 19 consecutive ASCII digits: anything that could be a whole card number.
fn long_digit_runs(text: &str) -> Vec<String> {
    let mut runs = Vec::new();
    let mut current = String::new();
    for character in text.chars().chain(std::iter::once(' ')) {
        if character.is_ascii_digit() {
            current.push(character);
        } else {
            if current.len() >= 13 {
                runs.push(current.clone());
            }
            current.clear();
        }
    }
    runs
}

#[test]
fn every_line_round_trips_through_shift_jis() {
    let rendered = receipt::render_text(&original_receipt());
    for expected in ["領収書", "住民票の写し × 2", "戸籍全部事項証明書 × 1", "￥1,050", "￥600", "No. 2026-000123"]
    {
        assert!(rendered.contains(expected), "{expected:?} missing from\n{rendered}");
    }
    assert!(rendered.contains("2026年05月12日 10:31"), "the time is JST:\n{rendered}");
    for line in rendered.lines() {
        let bytes = text::encode(line);
        assert_eq!(text::decode(&bytes), line);
        assert!(bytes.len() <= LineWidth::Columns42.columns(), "{line:?} is wider than the paper");
    }
}

#[test]
fn the_encoded_bytes_print_exactly_the_rendering() {
    let receipt = original_receipt();
    let bytes = receipt::encode(&receipt);
    assert_eq!(printed_text(&bytes), receipt::render_text(&receipt));
    let narrow = receipt.document(LineWidth::Columns32);
    assert_eq!(printed_text(&narrow.encode()), narrow.render_text());
    assert!(narrow.lines().iter().all(|line| text::columns(&line.text) <= 32));
}

#[test]
fn the_encoding_sets_kanji_mode_and_shift_jis_and_ends_with_the_cut() {
    let bytes = receipt::encode(&original_receipt());
    let commands = escpos::parse(&bytes).expect("parsable");
    assert!(commands.contains(&Command::KanjiModeOn));
    assert!(commands.contains(&Command::KanjiCodeSystem(escpos::KANJI_CODE_SHIFT_JIS)));
    assert!(bytes.ends_with(&[0x1D, 0x56, 0x42, 0x00]));
    assert_eq!(escpos::cut(), vec![0x1D, 0x56, 0x42, 0x00]);
}

#[test]
fn the_drawer_kick_bytes_are_exact() {
    assert_eq!(escpos::drawer_kick(DrawerPin::Pin2, 50, 500), vec![0x1B, 0x70, 0x00, 0x19, 0xFA]);
    assert_eq!(escpos::drawer_kick(DrawerPin::Pin5, 100, 200), vec![0x1B, 0x70, 0x01, 0x32, 0x64]);
}

#[test]
fn the_masked_card_number_is_the_only_card_data() {
    let receipt = original_receipt();
    let rendered = receipt::render_text(&receipt);
    let printed = printed_text(&receipt::encode(&receipt));
    for text in [&rendered, &printed] {
        assert!(text.contains(MASKED_CARD), "masked card missing:\n{text}");
        assert_eq!(long_digit_runs(text), Vec::<String>::new());
        assert!(text.contains("A1B2C3") && text.contains("632810000123") && text.contains("VISA"));
    }
    assert!(!rendered.contains("JCB"), "a declined attempt is not a tender:\n{rendered}");
    assert!(rendered.contains("お預り") && rendered.contains("￥1,000") && rendered.contains("お釣り"));
}

#[test]
fn an_unmasked_card_number_is_refused_without_repeating_it() {
    let mut sale = paid_sale();
    sale.payments[2].masked_card = Some("4111111111111111".to_string());
    let error = Receipt::from_sale(&sale, FACILITY, CITY, Issue::Original).expect_err("unmasked card");
    assert!(matches!(error, ReceiptError::CardNumberNotMasked { .. }));
    assert!(!error.to_string().contains("4111111111111111"));
}

#[test]
fn a_sale_that_is_not_paid_gets_no_receipt() {
    let mut sale = paid_sale();
    sale.state = SaleState::Open;
    let error = Receipt::from_sale(&sale, FACILITY, CITY, Issue::Original).expect_err("open sale");
    assert!(matches!(error, ReceiptError::NotPaid { .. }));
}

#[test]
fn a_reprint_is_marked_and_the_original_is_not() {
    let original = receipt::render_text(&original_receipt());
    assert!(!original.contains("再発行"), "{original}");
    let printed_at = Utc.with_ymd_and_hms(2026, 5, 13, 0, 5, 0).single().expect("instant");
    let reprint = Receipt::from_sale(&paid_sale(), FACILITY, CITY, Issue::Reprint { printed_at }).expect("reprint");
    let rendered = receipt::render_text(&reprint);
    let lines: Vec<&str> = rendered.lines().collect();
    assert_eq!(lines[1].trim(), REPRINT_MARK, "the mark follows the title:\n{rendered}");
    assert!(rendered.contains("再発行日時") && rendered.contains("2026年05月13日 09:05"), "{rendered}");
    assert_eq!(printed_text(&receipt::encode(&reprint)), rendered);
}
