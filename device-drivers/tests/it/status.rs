//! Printer status: every flag of the `DLE EOT` answers.

use device_drivers::printer::status::{DrawerOpenLevel, PrinterStatus, StatusError};

/// Answers of a printer with nothing to report (only the fixed bits set).
pub const ALL_CLEAR: [u8; 4] = [0x12, 0x12, 0x12, 0x12];

type Answers = [u8; 4];
/// Reads one flag of a status.
type Flag = fn(&PrinterStatus) -> bool;

fn parsed(answers: [u8; 4]) -> PrinterStatus {
    PrinterStatus::parse(answers, DrawerOpenLevel::High).expect("valid answers")
}

fn flags_set(status: &PrinterStatus) -> usize {
    [
        status.offline,
        status.cover_open,
        status.paper_end,
        status.paper_near_end,
        status.drawer_open,
        status.autocutter_error,
        status.unrecoverable_error,
        status.auto_recoverable_error,
    ]
    .into_iter()
    .filter(|flag| *flag)
    .count()
}

#[test]
fn a_clear_printer_can_print() {
    let status = parsed(ALL_CLEAR);
    assert_eq!(status, PrinterStatus::default());
    assert!(status.can_print());
}

#[test]
fn each_flag_is_read_from_its_bit() {
    let cases: [(Answers, Flag, bool); 8] = [
        ([0x1A, 0x12, 0x12, 0x12], |status| status.offline, false),
        ([0x16, 0x12, 0x12, 0x12], |status| status.drawer_open, true),
        ([0x12, 0x16, 0x12, 0x12], |status| status.cover_open, false),
        ([0x12, 0x32, 0x12, 0x12], |status| status.paper_end, false),
        ([0x12, 0x12, 0x12, 0x72], |status| status.paper_end, false),
        ([0x12, 0x12, 0x12, 0x1E], |status| status.paper_near_end, true),
        ([0x12, 0x12, 0x1A, 0x12], |status| status.autocutter_error, false),
        ([0x12, 0x12, 0x32, 0x12], |status| status.unrecoverable_error, false),
    ];
    for (answers, flag, can_print) in cases {
        let status = parsed(answers);
        assert!(flag(&status), "{answers:02x?} gave {status:?}");
        assert_eq!(status.can_print(), can_print, "{answers:02x?}");
        assert_eq!(flags_set(&status), 1, "only one flag from {answers:02x?}: {status:?}");
    }
}

#[test]
fn the_drawer_level_is_a_setting() {
    let closed_when_high = PrinterStatus::parse([0x16, 0x12, 0x12, 0x12], DrawerOpenLevel::Low).expect("valid");
    assert!(!closed_when_high.drawer_open);
    let open_when_low = PrinterStatus::parse(ALL_CLEAR, DrawerOpenLevel::Low).expect("valid");
    assert!(open_when_low.drawer_open);
}

#[test]
fn a_byte_without_the_fixed_bits_is_not_an_answer() {
    assert_eq!(
        PrinterStatus::parse([0x00, 0x12, 0x12, 0x12], DrawerOpenLevel::High),
        Err(StatusError::NotStatus { kind: 1, byte: 0x00 })
    );
}
