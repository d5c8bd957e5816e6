//! Builders for test files: lines joined with CRLF, Shift_JIS encoding, and 200-byte records
//! laid out by the columns of zengin-statement.md.

use reconciler::inputs::bank::RECORD_BYTES;
use reconciler::inputs::error::FileRejected;

pub const CARD_HEADER: &str = "record_type,settlement_date,payout_id,payout_date,merchant_id,terminal_id,transaction_time,stan,rrn,auth_code,brand,masked_pan,gross_amount,fee_amount,net_amount,original_rrn";
pub const QR_HEADER: &str =
    "取引日時,加盟店ID,店舗ID,端末ID,取引種別,決済番号,加盟店決済番号,取引金額,決済手数料,入金額,入金予定日,入金番号";
pub const EMONEY_HEADER: &str =
    "利用日,利用時刻,加盟店番号,端末番号,ブランド,取引区分,取引通番,カードID,金額,手数料,精算日";

/// Lines joined and ended with CRLF, as the settlement files are.
pub fn crlf_lines(lines: &[&str]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for line in lines {
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
    }
    bytes
}

pub const BYTE_ORDER_MARK: &[u8] = b"\xEF\xBB\xBF";

/// UTF-8 text as Shift_JIS bytes; every character used in tests has a Shift_JIS form.
pub fn shift_jis(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(text);
    assert!(!unmappable, "test text {text:?} has no Shift_JIS form");
    bytes.into_owned()
}

/// `haystack` with the first `needle` replaced.
pub fn replace_bytes(haystack: &[u8], needle: &[u8], replacement: &[u8]) -> Vec<u8> {
    let position = haystack.windows(needle.len()).position(|window| window == needle).expect("needle present");
    [&haystack[..position], replacement, &haystack[position + needle.len()..]].concat()
}

/// The messages of a rejection, one per error.
pub fn messages(rejection: FileRejected) -> Vec<String> {
    rejection.errors.iter().map(ToString::to_string).collect()
}

/// A 200-byte record, spaces until fields are put in.
#[derive(Clone)]
pub struct RecordBuilder {
    bytes: [u8; RECORD_BYTES],
}

impl RecordBuilder {
    pub fn new(kind: char) -> RecordBuilder {
        let mut builder = RecordBuilder { bytes: [b' '; RECORD_BYTES] };
        builder.bytes[0] = kind as u8;
        builder
    }

    /// Puts `text` (Shift_JIS-encoded, so half-width kana take one byte) at 1-based `column`.
    pub fn put(mut self, column: usize, text: &str) -> RecordBuilder {
        let bytes = shift_jis(text);
        self.bytes[column - 1..column - 1 + bytes.len()].copy_from_slice(&bytes);
        self
    }

    /// Puts a zero-filled number of `width` digits at `column`.
    pub fn number(self, column: usize, width: usize, value: u64) -> RecordBuilder {
        self.put(column, &format!("{value:0width$}"))
    }

    pub fn bytes(&self) -> [u8; RECORD_BYTES] {
        self.bytes
    }
}

/// Records joined with CRLF after each, or unbroken.
pub fn zengin_file(records: &[RecordBuilder], crlf: bool) -> Vec<u8> {
    let mut bytes = Vec::new();
    for record in records {
        bytes.extend_from_slice(&record.bytes());
        if crlf {
            bytes.extend_from_slice(b"\r\n");
        }
    }
    bytes
}
