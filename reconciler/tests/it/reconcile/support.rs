//! A small city for the tests (one facility, three acquirers) and builders for journal records,
//! settlement lines and bank credits. Settlements and bank credits can be generated from a
//! journal with the contracted fees, as the acquirers would send them.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, FixedOffset, NaiveDate};
use pos_config::{
    Acquirer, AcquirerKind, Backend, City, Config, CounterPolicy, Database, Facility, FacilityKind, FeeRate, Owner,
    Register, RevenueRule, Server,
};
use pos_core::{Brand, BusinessDate, FacilityId, FeeItemCode, MaskedPan, Method, PaymentState, Rate, RegisterId};
use pos_core::{Rounding, TerminalId, Yen};
use reconciler::bank::BankReconciliation;
use reconciler::calendar::BankCalendar;
use reconciler::day::{reconcile_day_with_bank, DayContext, DayResult};
use reconciler::inputs::bank::{AccountKey, AccountType, BankTransactionKind, Direction, StatementEntry};
use reconciler::inputs::card::{CardRecord, CardRecordType, CardSettlement, CardTrailer};
use reconciler::inputs::emoney::{EmoneyRecord, EmoneyTransactionKind};
use reconciler::inputs::identifiers::{ExternalId, MaskedCardId, MerchantId, PayoutId, Rrn, Stan};
use reconciler::inputs::qr::{QrRecord, QrTransactionKind};
use reconciler::journal::{
    DayJournal, JournalPayment, JournalSaleLine, JournalShift, PaymentId, Receipt, SaleId, ShiftId,
};
use reconciler::report::accounting::journal_entries;
use reconciler::report::totals::{check_day_report, check_journal_entries, check_receivables};
use reconciler::report::DayReport;
use reconciler::settlements::{CardFile, EmoneyFile, QrFile, Settlements};

pub const FACILITY: &str = "SHIMIN";
pub const MERCHANT: &str = "000000000010001";
pub const REGISTER: &str = "R0010001";
pub const TERMINAL: &str = "T0010001";
pub const SHIFT: &str = "S1";
pub const FACILITY_DEPOSITOR: &str = "ﾐﾅﾄｼ ｼﾐﾝｶ";
pub const CARD_DEPOSITOR: &str = "ｶｰﾄﾞｶｲｼｬ";
pub const EMONEY_DEPOSITOR: &str = "ﾃﾞﾝｼﾏﾈｰｾﾝﾀｰ";
pub const QR_DEPOSITOR: &str = "ﾍﾟｲﾍﾟｲ";
pub const FLOAT: i64 = 30_000;
pub const REVENUE_ACCOUNT: &str = "14-01-01";
pub const BANK_FILE: &str = "zengin-20261210.txt";

pub fn yen(amount: i64) -> Yen {
    Yen::new(amount).unwrap()
}

pub fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

/// A JST instant from `2026-11-24T10:15:02`.
pub fn at(text: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(&format!("{text}+09:00")).unwrap()
}

/// The e-money centre's deadline for settling a 処理未了, in bank business days.
pub const OUTCOME_UNKNOWN_DEADLINE_DAYS: u32 = 6;

fn fee_rate(brand: Brand, percent: &str) -> FeeRate {
    FeeRate {
        brand,
        rate: Rate::parse_percent(percent).unwrap(),
        rounding: Rounding::Truncate,
        outcome_unknown_deadline_business_days: (brand.method() == Method::Emoney)
            .then_some(OUTCOME_UNKNOWN_DEADLINE_DAYS),
    }
}

pub fn config_with(revenue_rule: RevenueRule) -> Config {
    let operator = pos_core::OperatorId::parse("SPORTS-CO").unwrap();
    Config {
        city: City { name_ja: "湊市".to_string(), name_en: "Minato".to_string() },
        server: Server {
            listen: "127.0.0.1:0".parse().unwrap(),
            request_body_bytes_max: 65_536,
            request_timeout_ms: 1_000,
            limits: Default::default(),
            auth_throttle: Default::default(),
            sessions: Default::default(),
            public_url: None,
            tls: None,
        },
        database: Database { url: "sqlite://journal.db".to_string(), backend: Backend::Sqlite, connections_max: 1 },
        operators: Vec::new(),
        fee_items: BTreeMap::new(),
        facilities: vec![Facility {
            id: FacilityId::parse(FACILITY).unwrap(),
            name_ja: "市民課".to_string(),
            name_en: "Citizens' division".to_string(),
            kind: FacilityKind::CertificateCounter,
            owner: match revenue_rule {
                RevenueRule::Shiyoryo => Owner::City,
                RevenueRule::RiyoRyokin => Owner::Operator(operator),
            },
            revenue_rule,
            merchant_id: MERCHANT.to_string(),
            depositor_name: FACILITY_DEPOSITOR.to_string(),
            brands: vec![
                Brand::Cash,
                Brand::Visa,
                Brand::Jcb,
                Brand::Amex,
                Brand::TransitIc,
                Brand::Waon,
                Brand::Id,
                Brand::PayPay,
            ],
            fee_items: Vec::new(),
            policy: CounterPolicy { split_tender: true, open_price_items: false, cash_tendered_max: yen(100_000) },
            registers: vec![Register {
                id: RegisterId::parse(REGISTER).unwrap(),
                terminal: Some(TerminalId::parse(TERMINAL).unwrap()),
            }],
        }],
        acquirers: vec![
            Acquirer {
                qr_link: None,
                id: "card".to_string(),
                receivable_account: pos_config::Accounting::unmapped_receivable("card"),
                name: "Card acquirer".to_string(),
                kind: AcquirerKind::Card,
                depositor_name: CARD_DEPOSITOR.to_string(),
                settlement_lag_days: 2,
                fees: vec![fee_rate(Brand::Visa, "3.24%"), fee_rate(Brand::Jcb, "3.0%"), fee_rate(Brand::Amex, "3.5%")],
                link: None,
            },
            Acquirer {
                qr_link: None,
                id: "emoney".to_string(),
                receivable_account: pos_config::Accounting::unmapped_receivable("emoney"),
                name: "E-money centre".to_string(),
                kind: AcquirerKind::Emoney,
                depositor_name: EMONEY_DEPOSITOR.to_string(),
                settlement_lag_days: 3,
                fees: vec![
                    fee_rate(Brand::TransitIc, "3.0%"),
                    fee_rate(Brand::Waon, "2.75%"),
                    fee_rate(Brand::Id, "3.24%"),
                ],
                link: None,
            },
            Acquirer {
                qr_link: None,
                id: "paypay".to_string(),
                receivable_account: pos_config::Accounting::unmapped_receivable("paypay"),
                name: "PayPay".to_string(),
                kind: AcquirerKind::Qr,
                depositor_name: QR_DEPOSITOR.to_string(),
                settlement_lag_days: 5,
                fees: vec![fee_rate(Brand::PayPay, "1.98%")],
                link: None,
            },
        ],
        brand_rules: Vec::new(),
        terminal_host: None,
        users: Vec::new(),
        accounting: pos_config::Accounting::unmapped(),
        calendar: pos_config::Calendar::default(),
        open_data: None,
        monthly_report: pos_config::MonthlyReport::default(),
    }
}

pub fn config() -> Config {
    config_with(RevenueRule::Shiyoryo)
}

pub fn contracted_fee(config: &Config, brand: Brand, gross: Yen) -> Yen {
    let (_, fee) = config.fee_rate(brand).unwrap();
    if gross.is_negative() {
        fee.rate.fee(gross.checked_neg(), fee.rounding).unwrap().checked_neg()
    } else {
        fee.rate.fee(gross, fee.rounding).unwrap()
    }
}

/// A completed payment at the facility's register.
pub fn payment(id: &str, brand: Brand, amount: i64, time: &str, stan: &str, rrn: Option<&str>) -> JournalPayment {
    let time = at(time);
    JournalPayment {
        payment_id: PaymentId::new(id),
        sale_id: SaleId::new(format!("SALE-{id}")),
        facility: FacilityId::parse(FACILITY).unwrap(),
        register: RegisterId::parse(REGISTER).unwrap(),
        shift: ShiftId::new(SHIFT),
        method: brand.method(),
        brand,
        amount: yen(amount),
        state: PaymentState::Completed,
        business_date: BusinessDate::new(time.date_naive()),
        time,
        terminal_id: (brand.method() != Method::Cash && brand.method() != Method::Qr)
            .then(|| TerminalId::parse(TERMINAL).unwrap()),
        stan: (!stan.is_empty()).then(|| Stan::parse(stan).unwrap()),
        rrn: rrn.map(|rrn| Rrn::parse(rrn).unwrap()),
        masked_pan: (brand.method() == Method::Card).then(|| MaskedPan::parse_masked("411111******1111").unwrap()),
        card_id: (brand.method() == Method::Emoney).then(|| MaskedCardId::parse("JE80****5678").unwrap()),
        receipt: Some(receipt_of(id)),
        refunds: Vec::new(),
    }
}

/// A receipt number for a test payment: `P12` → No. 2026-000012; any other id, the sum of its
/// bytes (distinct for the ids the tests use).
pub fn receipt_of(id: &str) -> Receipt {
    let number =
        id.strip_prefix('P').and_then(|digits| digits.parse().ok()).unwrap_or_else(|| id.bytes().map(i64::from).sum());
    Receipt { fiscal_year: pos_core::FiscalYear::new(2026), number }
}

/// One sale line per payment, so that revenue equals the takings.
pub fn sale_line_for(payment: &JournalPayment) -> JournalSaleLine {
    JournalSaleLine {
        sale_id: payment.sale_id.clone(),
        fee_item: FeeItemCode::parse("JUMINHYO").unwrap(),
        revenue_account: REVENUE_ACCOUNT.to_string(),
        quantity: 1,
        amount: payment.amount,
    }
}

/// The journal of a day: its payments, a sale line for each, one shift counted as `counted`
/// (`None`: exactly the expected cash).
pub fn journal(business_date: &str, payments: Vec<JournalPayment>, counted: Option<i64>) -> DayJournal {
    let cash: i64 = payments
        .iter()
        .filter(|payment| payment.method == Method::Cash && payment.is_taken())
        .map(|payment| payment.amount.get())
        .sum();
    DayJournal {
        facility: FacilityId::parse(FACILITY).unwrap(),
        business_date: BusinessDate::new(date(business_date)),
        sale_lines: payments.iter().map(sale_line_for).collect(),
        payments,
        shifts: vec![JournalShift {
            shift_id: ShiftId::new(SHIFT),
            register: RegisterId::parse(REGISTER).unwrap(),
            opened_at: Some(at(&format!("{business_date}T08:30:00"))),
            float_opening: yen(FLOAT),
            cash_expected_recorded: Some(yen(FLOAT + cash)),
            cash_counted: Some(yen(counted.unwrap_or(FLOAT + cash))),
            over_short_recorded: None,
        }],
    }
}

/// A card line as the acquirer would send it for a payment (or refund: negative gross). Its
/// fields are written out in each test so that the figures stay visible there.
#[allow(clippy::too_many_arguments)]
pub fn card_record(
    config: &Config,
    line: u64,
    record_type: CardRecordType,
    brand: Brand,
    time: &str,
    stan: &str,
    rrn: &str,
    gross: i64,
    original_rrn: Option<&str>,
) -> CardRecord {
    let gross = yen(gross);
    let fee = contracted_fee(config, brand, gross);
    CardRecord {
        line,
        record_type,
        settlement_date: date("2026-11-24"),
        payout_id: PayoutId::parse("P20261126-001").unwrap(),
        payout_date: date("2026-11-26"),
        merchant_id: MerchantId::parse(MERCHANT).unwrap(),
        terminal_id: TerminalId::parse(TERMINAL).unwrap(),
        transaction_time: at(time),
        stan: Stan::parse(stan).unwrap(),
        rrn: Rrn::parse(rrn).unwrap(),
        auth_code: None,
        brand,
        masked_pan: MaskedPan::parse_masked("411111******1111").unwrap(),
        amount_gross: gross,
        amount_fee: fee,
        amount_net: gross.checked_sub(fee).unwrap(),
        original_rrn: original_rrn.map(|rrn| Rrn::parse(rrn).unwrap()),
    }
}

/// A card file whose trailer states the lines' sums.
pub fn card_file(name: &str, records: Vec<CardRecord>) -> CardFile {
    let (settlement_date, payout_id) = records
        .first()
        .map(|record| (record.settlement_date, record.payout_id.clone()))
        .unwrap_or((date("2026-11-24"), PayoutId::parse("P20261126-001").unwrap()));
    let sum = |field: fn(&CardRecord) -> Yen| Yen::checked_sum(records.iter().map(field)).unwrap();
    let trailer = CardTrailer {
        line: records.len() as u64 + 2,
        settlement_date,
        payout_id,
        amount_gross: sum(|record| record.amount_gross),
        amount_fee: sum(|record| record.amount_fee),
        amount_net: sum(|record| record.amount_net),
    };
    CardFile { name: name.to_string(), settlement: CardSettlement { records, trailer } }
}

// A line's fields, written out in each test so that the figures stay visible there.
#[allow(clippy::too_many_arguments)]
pub fn emoney_record(
    config: &Config,
    line: u64,
    kind: EmoneyTransactionKind,
    brand: Brand,
    time: &str,
    stan: &str,
    gross: i64,
    settlement_date: &str,
) -> EmoneyRecord {
    let gross = yen(gross);
    let fee =
        if kind == EmoneyTransactionKind::OutcomeUnknown { Yen::ZERO } else { contracted_fee(config, brand, gross) };
    EmoneyRecord {
        line,
        transaction_time: at(time),
        merchant_id: MerchantId::parse(MERCHANT).unwrap(),
        terminal_id: TerminalId::parse(TERMINAL).unwrap(),
        brand,
        kind,
        stan: Stan::parse(stan).unwrap(),
        card_id: MaskedCardId::parse("JE80****5678").unwrap(),
        amount_gross: gross,
        amount_fee: fee,
        settlement_date: date(settlement_date),
    }
}

pub fn qr_record(
    config: &Config,
    line: u64,
    kind: QrTransactionKind,
    time: &str,
    merchant_payment_id: &str,
    gross: i64,
) -> QrRecord {
    let gross = yen(gross);
    let fee = contracted_fee(config, Brand::PayPay, gross);
    QrRecord {
        line,
        brand: Brand::PayPay,
        transaction_time: at(time),
        merchant_code: ExternalId::parse("M0001").unwrap(),
        store_code: ExternalId::parse("S0010001").unwrap(),
        terminal_code: ExternalId::parse(REGISTER).unwrap(),
        kind,
        provider_payment_id: ExternalId::parse(&format!("0401{line:016}")).unwrap(),
        merchant_payment_id: ExternalId::parse(merchant_payment_id).unwrap(),
        amount_gross: gross,
        amount_fee: fee,
        amount_net: gross.checked_sub(fee).unwrap(),
        payout_date: date("2026-11-30"),
        payout_id: PayoutId::parse("D20261130-01").unwrap(),
    }
}

/// A bank credit.
pub fn credit(
    number: u64,
    booking_date: &str,
    kind: BankTransactionKind,
    payer: &str,
    amount: i64,
    description: &str,
) -> StatementEntry {
    StatementEntry {
        file: BANK_FILE.to_string(),
        record_number: number,
        account: AccountKey {
            bank_code: "0001".to_string(),
            branch_code: "001".to_string(),
            account_type: AccountType::Current,
            account_number: "0001234567".to_string(),
        },
        reference: format!("{number:08}"),
        booking_date: date(booking_date),
        value_date: None,
        direction: Direction::Credit,
        kind,
        amount: yen(amount),
        amount_other_bank_cheques: None,
        clearing_presented_on: None,
        dishonoured_returned_on: None,
        cheque_kind: None,
        cheque_number: None,
        sister_branch_code: None,
        payer_code: None,
        payer_name: payer.to_string(),
        remitting_bank_name: String::new(),
        remitting_branch_name: String::new(),
        description: description.to_string(),
        edi_information: String::new(),
    }
}

/// Settlement files as the acquirers would send them for the journal's day: every taken
/// cashless payment once, with the contracted fee.
pub fn settlements_for(config: &Config, journal: &DayJournal) -> Settlements {
    let mut card = Vec::new();
    let mut emoney = Vec::new();
    let mut qr = Vec::new();
    for payment in journal.payments.iter().filter(|payment| payment.is_taken()) {
        let time = payment.time.format("%Y-%m-%dT%H:%M:%S").to_string();
        let stan = payment.stan.as_ref().map(|stan| stan.as_str().to_string()).unwrap_or_default();
        match payment.method {
            Method::Card => {
                let rrn = payment.rrn.as_ref().unwrap().as_str().to_string();
                let line = card.len() as u64 + 2;
                card.push(card_record(
                    config,
                    line,
                    CardRecordType::Sale,
                    payment.brand,
                    &time,
                    &stan,
                    &rrn,
                    payment.amount.get(),
                    None,
                ));
            }
            Method::Emoney => {
                let line = emoney.len() as u64 + 2;
                let kind = EmoneyTransactionKind::Sale;
                emoney.push(emoney_record(
                    config,
                    line,
                    kind,
                    payment.brand,
                    &time,
                    &stan,
                    payment.amount.get(),
                    "2026-11-27",
                ));
            }
            Method::Qr => {
                let line = qr.len() as u64 + 2;
                let id = payment.payment_id.as_str();
                qr.push(qr_record(config, line, QrTransactionKind::Payment, &time, id, payment.amount.get()));
            }
            Method::Cash => {}
        }
    }
    Settlements {
        card: vec![card_file("card-settlement-20261124.csv", card)],
        qr: vec![QrFile { name: "qr-settlement-20261124.csv".to_string(), records: qr }],
        emoney: vec![EmoneyFile { name: "emoney-settlement-20261124.csv".to_string(), records: emoney }],
    }
}

/// Bank credits for every payout in the settlements (on its payout date, with the sum of its
/// net lines) and the facility's cash deposit (counted less float, the next business day).
pub fn bank_for(settlements: &Settlements, journal: &DayJournal) -> Vec<StatementEntry> {
    let mut entries = Vec::new();
    let card_net: i64 =
        settlements.card.iter().flat_map(|file| &file.settlement.records).map(|record| record.amount_net.get()).sum();
    let qr_net: i64 = settlements.qr.iter().flat_map(|file| &file.records).map(|record| record.amount_net.get()).sum();
    let emoney_net: i64 = settlements
        .emoney
        .iter()
        .flat_map(|file| &file.records)
        .filter(|record| record.kind != EmoneyTransactionKind::OutcomeUnknown)
        .map(|record| record.amount_net().unwrap().get())
        .sum();
    let has = |count: usize| count > 0;
    if has(settlements.card.iter().map(|file| file.settlement.records.len()).sum()) {
        entries.push(credit(1, "2026-11-26", BankTransactionKind::Transfer, CARD_DEPOSITOR, card_net, "P20261126-001"));
    }
    if has(settlements.qr.iter().map(|file| file.records.len()).sum()) {
        entries.push(credit(2, "2026-11-30", BankTransactionKind::Transfer, QR_DEPOSITOR, qr_net, ""));
    }
    if has(settlements.emoney.iter().map(|file| file.records.len()).sum()) {
        entries.push(credit(3, "2026-11-27", BankTransactionKind::Transfer, EMONEY_DEPOSITOR, emoney_net, ""));
    }
    let deposit: i64 = journal
        .shifts
        .iter()
        .filter_map(|shift| shift.cash_counted.map(|counted| counted.get() - shift.float_opening.get()))
        .sum();
    if deposit > 0 {
        entries.push(credit(4, "2026-11-25", BankTransactionKind::Cash, FACILITY_DEPOSITOR, deposit, ""));
    }
    // A payout whose lines net to nothing or less is not paid.
    entries.retain(|entry| entry.amount > Yen::ZERO);
    entries
}

/// Reconciles the journal's day as of `as_of`, and checks the result's totals and its report's
/// (the exceptions sum to the net difference; each payout's receivable is its net).
pub fn reconcile(
    config: &Config,
    journal: &DayJournal,
    settlements: &Settlements,
    bank: &[StatementEntry],
    as_of: &str,
) -> DayResult {
    reconcile_with_bank(config, journal, settlements, bank, as_of).0
}

/// As [`reconcile`], with the bank reconciliation (the city's list) beside the day.
pub fn reconcile_with_bank(
    config: &Config,
    journal: &DayJournal,
    settlements: &Settlements,
    bank: &[StatementEntry],
    as_of: &str,
) -> (DayResult, BankReconciliation) {
    let calendar = BankCalendar::shipped().unwrap();
    let context = DayContext { config, calendar: &calendar, as_of: date(as_of) };
    let facility = FacilityId::parse(FACILITY).unwrap();
    let (result, bank) =
        reconcile_day_with_bank(&facility, journal.business_date, journal, settlements, bank, &context).unwrap();
    if let Err(error) = result.check_totals() {
        panic!("{error}: {:#?}", result.exceptions);
    }
    let report = DayReport::build(&result, journal, config).unwrap();
    check_day_report(&report).unwrap();
    let entries = journal_entries(&report, config, &BTreeSet::new()).unwrap();
    check_receivables(std::slice::from_ref(&report), &entries, config).unwrap();
    check_journal_entries(&entries).unwrap();
    (result, bank)
}

/// The kinds of the result's exceptions, in order.
pub fn kinds(result: &DayResult) -> Vec<reconciler::exceptions::ExceptionKind> {
    result.exceptions.iter().map(|exception| exception.kind).collect()
}
