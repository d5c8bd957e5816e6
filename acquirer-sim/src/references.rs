//! The references the acquirer issues: retrieval reference numbers (field 37) and authorization
//! codes (field 38). Pure functions of the booking's time and sequence number, so a run with a
//! manual clock issues the same references every time.

use chrono::{DateTime, Datelike, FixedOffset};

/// `YDDDNNSSSSSS`: the last digit of the year, the day of the year (001–366), the simulator's
/// node (two digits) and the booking sequence number (six digits). The example RRN of
/// PROTOCOLS.md §4.1, `632810000123`, has this shape (2026, day 328 = 24 November, node 10).
/// A simulator books at most [`crate::ledger::LEDGER_ENTRIES_MAX`] transactions, fewer than a
/// million, so the sequence never wraps and no two bookings of one simulator share an RRN.
pub fn retrieval_reference(at: DateTime<FixedOffset>, node: u8, sequence: u64) -> String {
    let year_digit = at.year().rem_euclid(10);
    format!("{year_digit}{:03}{:02}{:06}", at.ordinal(), node % 100, sequence % 1_000_000)
}

/// Six upper-case letters and digits that look issued, not counted: the sequence number spread
/// over 36⁶ values by multiplying with an odd constant (a bijection modulo 36⁶, so two bookings
/// never get the same code within 2 176 782 336 bookings).
pub fn authorization_code(sequence: u64) -> String {
    const ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    const SPACE: u64 = 36u64.pow(6);
    // Odd and not a multiple of 3, so coprime with 36⁶ = 2⁶·3⁶; (36⁶ − 1) × SPREAD < 2⁶⁴, so
    // the product cannot overflow.
    const SPREAD: u64 = 2_654_435_761;
    let mut value = (sequence % SPACE) * SPREAD % SPACE;
    let mut code = [b'0'; 6];
    for slot in code.iter_mut().rev() {
        *slot = ALPHABET[(value % 36) as usize];
        value /= 36;
    }
    code.iter().map(|b| char::from(*b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn rrn_has_the_protocol_example_shape() {
        let at = pos_core::time::jst().with_ymd_and_hms(2026, 11, 24, 10, 15, 2).unwrap();
        assert_eq!(retrieval_reference(at, 10, 123), "632810000123");
        assert_eq!(retrieval_reference(at, 7, 1), "632807000001");
    }

    #[test]
    fn authorization_codes_are_six_characters_and_distinct() {
        let codes: std::collections::HashSet<String> = (0..10_000).map(authorization_code).collect();
        assert_eq!(codes.len(), 10_000);
        assert!(codes.iter().all(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_alphanumeric())));
    }
}
