//! Files recognised by content: a second load of the same bytes is refused.

use std::io::BufReader;

use reconciler::inputs::card::CardSettlementReader;
use reconciler::inputs::error::{Location, Reason};
use reconciler::inputs::file_id::{FileId, HashingReader, LoadedFiles};

use super::support::{crlf_lines, CARD_HEADER};

fn card_file() -> Vec<u8> {
    crlf_lines(&[CARD_HEADER, "TOTAL,2026-11-24,P20261126-001,,,,,,,,,,0,0,0,"])
}

#[test]
fn the_same_content_under_another_name_is_refused_naming_both() {
    let bytes = card_file();
    let mut loaded = LoadedFiles::new();
    let id = loaded.register_bytes("card-settlement-20261124.csv", &bytes).unwrap();
    let error = loaded.register_bytes("card-settlement-20261124 (1).csv", &bytes).unwrap_err();
    assert_eq!(error.location, Location::File);
    assert_eq!(
        *error.reason,
        Reason::DuplicateFile { first_file: "card-settlement-20261124.csv".to_string(), file_id: id.to_hex() }
    );
    assert_eq!(
        error.to_string(),
        format!(
            "card-settlement-20261124 (1).csv: same content as card-settlement-20261124.csv, which is already loaded (SHA-256 {})",
            id.to_hex()
        )
    );
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded.name_of(&id), Some("card-settlement-20261124.csv"));
}

#[test]
fn the_same_name_twice_is_refused_too() {
    let bytes = card_file();
    let mut loaded = LoadedFiles::new();
    loaded.register_bytes("card-settlement-20261124.csv", &bytes).unwrap();
    let error = loaded.register_bytes("card-settlement-20261124.csv", &bytes).unwrap_err();
    assert!(error.to_string().starts_with(
        "card-settlement-20261124.csv: same content as card-settlement-20261124.csv, which is already loaded"
    ));
}

#[test]
fn different_content_is_a_different_file() {
    let mut loaded = LoadedFiles::new();
    let first = card_file();
    let mut second = card_file();
    second.extend_from_slice(b"\r\n");
    loaded.register_bytes("a.csv", &first).unwrap();
    loaded.register_bytes("b.csv", &second).unwrap();
    assert_eq!(loaded.len(), 2);
}

#[test]
fn the_id_is_computed_while_the_parser_streams() {
    let bytes = card_file();
    let mut hashing = HashingReader::new(&bytes[..]);
    let records: Result<Vec<_>, _> = CardSettlementReader::new("card.csv", BufReader::new(&mut hashing)).collect();
    assert_eq!(records.unwrap(), vec![]);
    assert_eq!(hashing.bytes_read(), bytes.len() as u64);
    assert_eq!(hashing.file_id(), FileId::of_bytes(&bytes));
}
