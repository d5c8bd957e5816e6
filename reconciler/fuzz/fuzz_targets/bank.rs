//! The 全銀協 statement parser on arbitrary bytes, in both date styles: it may refuse them,
//! never panic.
#![no_main]

use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;
use reconciler::inputs::bank::{read_bank_statement, BankReadOptions, DateStyle};

fuzz_target!(|data: &[u8]| {
    // A fixed reading day keeps every run reproducible from its input alone.
    let Some(read_on) = NaiveDate::from_ymd_opt(2026, 11, 27) else { return };
    let _ = read_bank_statement("fuzz.txt", data, BankReadOptions::new(read_on));
    let gregorian = BankReadOptions { read_on, date_style: DateStyle::Gregorian };
    let _ = read_bank_statement("fuzz.txt", data, gregorian);
});
