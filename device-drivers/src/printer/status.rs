//! The printer's real-time status (`DLE EOT n`), parsed from its one-byte answers.
//!
//! Each answer byte has fixed bits (bit 0 = 0, bit 1 = 1, bit 4 = 1, bit 7 = 0), which is how an
//! answer is told apart from any other byte the printer might send; a byte without them is not
//! a status answer.

/// `DLE EOT 1`: printer status (drawer sensor, offline).
pub const QUERY_PRINTER: u8 = 1;
/// `DLE EOT 2`: offline cause (cover open, paper end stop, error).
pub const QUERY_OFFLINE_CAUSE: u8 = 2;
/// `DLE EOT 3`: error cause (autocutter, unrecoverable, auto-recoverable).
pub const QUERY_ERROR_CAUSE: u8 = 3;
/// `DLE EOT 4`: roll paper sensors (near end, end).
pub const QUERY_PAPER: u8 = 4;
/// Every query, in the order the driver sends them.
pub const QUERIES: [u8; 4] = [QUERY_PRINTER, QUERY_OFFLINE_CAUSE, QUERY_ERROR_CAUSE, QUERY_PAPER];

/// The bits every status answer has fixed, and their values.
pub const FIXED_BITS_MASK: u8 = 0b1001_0011;
pub const FIXED_BITS_VALUE: u8 = 0b0001_0010;

pub const PRINTER_DRAWER_PIN_HIGH: u8 = 0x04;
pub const PRINTER_OFFLINE: u8 = 0x08;
pub const OFFLINE_COVER_OPEN: u8 = 0x04;
pub const OFFLINE_PAPER_END_STOP: u8 = 0x20;
pub const OFFLINE_ERROR: u8 = 0x40;
pub const ERROR_AUTOCUTTER: u8 = 0x08;
pub const ERROR_UNRECOVERABLE: u8 = 0x20;
pub const ERROR_AUTO_RECOVERABLE: u8 = 0x40;
pub const PAPER_NEAR_END: u8 = 0x0C;
pub const PAPER_END: u8 = 0x60;

/// Which level of drawer kick-out connector pin 3 means "open". It depends on the drawer's
/// switch, not on the printer, so it is a setting of the counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DrawerOpenLevel {
    /// Pin 3 high means open (the usual wiring: the closed drawer pulls the pin low).
    #[default]
    High,
    Low,
}

/// What the printer said about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PrinterStatus {
    pub offline: bool,
    pub cover_open: bool,
    /// The roll has run out; printing has stopped.
    pub paper_end: bool,
    /// The roll is nearly out; printing goes on, but the clerk should change it soon.
    pub paper_near_end: bool,
    pub drawer_open: bool,
    pub autocutter_error: bool,
    pub unrecoverable_error: bool,
    pub auto_recoverable_error: bool,
}

impl PrinterStatus {
    /// Whether a receipt can be printed now.
    pub fn can_print(&self) -> bool {
        !(self.offline
            || self.cover_open
            || self.paper_end
            || self.autocutter_error
            || self.unrecoverable_error
            || self.auto_recoverable_error)
    }

    /// Folds in the answer to query `kind`.
    pub fn apply(&mut self, kind: u8, answer: u8, drawer_open_level: DrawerOpenLevel) -> Result<(), StatusError> {
        if !is_status_byte(answer) {
            return Err(StatusError::NotStatus { kind, byte: answer });
        }
        match kind {
            QUERY_PRINTER => {
                let pin_high = answer & PRINTER_DRAWER_PIN_HIGH != 0;
                self.drawer_open = pin_high == (drawer_open_level == DrawerOpenLevel::High);
                self.offline = answer & PRINTER_OFFLINE != 0;
            }
            QUERY_OFFLINE_CAUSE => {
                self.cover_open = answer & OFFLINE_COVER_OPEN != 0;
                // The paper-end stop is also reported by query 4; either one means no paper.
                self.paper_end |= answer & OFFLINE_PAPER_END_STOP != 0;
                self.offline |= answer & OFFLINE_ERROR != 0;
            }
            QUERY_ERROR_CAUSE => {
                self.autocutter_error = answer & ERROR_AUTOCUTTER != 0;
                self.unrecoverable_error = answer & ERROR_UNRECOVERABLE != 0;
                self.auto_recoverable_error = answer & ERROR_AUTO_RECOVERABLE != 0;
            }
            QUERY_PAPER => {
                self.paper_near_end = answer & PAPER_NEAR_END != 0;
                self.paper_end |= answer & PAPER_END != 0;
            }
            _ => return Err(StatusError::UnknownQuery(kind)),
        }
        Ok(())
    }

    /// The status from the answers to every query in [`QUERIES`], in that order.
    pub fn parse(answers: [u8; 4], drawer_open_level: DrawerOpenLevel) -> Result<PrinterStatus, StatusError> {
        let mut status = PrinterStatus::default();
        for (kind, answer) in QUERIES.into_iter().zip(answers) {
            status.apply(kind, answer, drawer_open_level)?;
        }
        Ok(status)
    }
}

impl std::fmt::Display for PrinterStatus {
    /// What a clerk needs to know, in words: `paper out, cover open`, or `ready`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let problems: Vec<&str> = [
            (self.paper_end, "paper out"),
            (self.cover_open, "cover open"),
            (self.autocutter_error, "cutter error"),
            (self.unrecoverable_error, "unrecoverable error"),
            (self.auto_recoverable_error, "recoverable error (e.g. the head overheated)"),
            (self.offline && !(self.paper_end || self.cover_open), "offline"),
            (self.paper_near_end, "paper near its end"),
        ]
        .into_iter()
        .filter_map(|(set, words)| set.then_some(words))
        .collect();
        if problems.is_empty() {
            f.write_str("ready")
        } else {
            f.write_str(&problems.join(", "))
        }
    }
}

/// Whether a byte has the fixed bits of a status answer.
pub fn is_status_byte(byte: u8) -> bool {
    byte & FIXED_BITS_MASK == FIXED_BITS_VALUE
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusError {
    #[error("byte {byte:#04x} is not an answer to status query {kind} (its fixed bits are wrong)")]
    NotStatus { kind: u8, byte: u8 },
    #[error("status query {0} is not one we send")]
    UnknownQuery(u8),
}
