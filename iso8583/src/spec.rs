//! The field definitions: which fields exist, how each is encoded and how long it may be.
//!
//! The codec is driven entirely by a [`Spec`] value. [`Spec::default_1987`] is ISO 8583:1987 with
//! the field definitions of the PyPI package `pyiso8583` (4.0.1), spec `iso8583.specs.default`, as
//! PROTOCOLS.md §1 fixes: ASCII MTI and fields, binary bitmaps, LL/LLL variable fields with ASCII
//! length digits, fields 52, 55, 64, 65, 96 and 128 binary.

use std::sync::OnceLock;

/// How a field's bytes are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Printable ASCII text.
    Ascii,
    /// Raw bytes.
    Binary,
}

/// A field's length rule. Lengths count bytes; the LL and LLL prefixes are ASCII digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Length {
    Fixed(usize),
    /// Two ASCII digits of length, then up to this many bytes.
    Ll(usize),
    /// Three ASCII digits of length, then up to this many bytes.
    Lll(usize),
}

impl Length {
    pub fn max(self) -> usize {
        match self {
            Length::Fixed(n) | Length::Ll(n) | Length::Lll(n) => n,
        }
    }

    /// How many ASCII length digits precede the data.
    pub fn prefix_digits(self) -> usize {
        match self {
            Length::Fixed(_) => 0,
            Length::Ll(_) => 2,
            Length::Lll(_) => 3,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    pub number: u8,
    pub name: &'static str,
    pub encoding: Encoding,
    pub length: Length,
}

/// A complete field table, fields 2 to 128 (field 1, the secondary bitmap, is the codec's own).
#[derive(Debug, Clone)]
pub struct Spec {
    fields: Vec<Option<FieldSpec>>,
}

pub const FIELD_NUMBER_MAX: u8 = 128;

impl Spec {
    /// A spec from field definitions; later definitions of a number replace earlier ones.
    pub fn new(definitions: impl IntoIterator<Item = FieldSpec>) -> Spec {
        let mut fields = vec![None; usize::from(FIELD_NUMBER_MAX) + 1];
        for definition in definitions {
            if (2..=FIELD_NUMBER_MAX).contains(&definition.number) {
                fields[usize::from(definition.number)] = Some(definition);
            }
        }
        Spec { fields }
    }

    pub fn field(&self, number: u8) -> Option<&FieldSpec> {
        self.fields.get(usize::from(number)).and_then(Option::as_ref)
    }

    /// ISO 8583:1987 as `pyiso8583`'s `specs.default` defines it.
    pub fn default_1987() -> &'static Spec {
        static SPEC: OnceLock<Spec> = OnceLock::new();
        SPEC.get_or_init(|| Spec::new(DEFAULT_1987))
    }
}

const fn field(number: u8, name: &'static str, encoding: Encoding, length: Length) -> FieldSpec {
    FieldSpec { number, name, encoding, length }
}

use Encoding::{Ascii, Binary};
use Length::{Fixed, Ll, Lll};

/// Field definitions of `pyiso8583` 4.0.1 `specs.default` (a published table of facts: number,
/// name, encoding, length rule).
const DEFAULT_1987: [FieldSpec; 127] = [
    field(2, "Primary Account Number (PAN)", Ascii, Ll(19)),
    field(3, "Processing Code", Ascii, Fixed(6)),
    field(4, "Amount, Transaction", Ascii, Fixed(12)),
    field(5, "Amount, Settlement", Ascii, Fixed(12)),
    field(6, "Amount, Cardholder Billing", Ascii, Fixed(12)),
    field(7, "Transmission Date and Time", Ascii, Fixed(10)),
    field(8, "Amount, Cardholder Billing Fee", Ascii, Fixed(8)),
    field(9, "Conversion Rate, Settlement", Ascii, Fixed(8)),
    field(10, "Conversion Rate, Cardholder Billing", Ascii, Fixed(8)),
    field(11, "System Trace Audit Number", Ascii, Fixed(6)),
    field(12, "Time, Local Transaction", Ascii, Fixed(6)),
    field(13, "Date, Local Transaction", Ascii, Fixed(4)),
    field(14, "Date, Expiration", Ascii, Fixed(4)),
    field(15, "Date, Settlement", Ascii, Fixed(4)),
    field(16, "Date, Conversion", Ascii, Fixed(4)),
    field(17, "Date, Capture", Ascii, Fixed(4)),
    field(18, "Merchant Type", Ascii, Fixed(4)),
    field(19, "Acquiring Institution Country Code", Ascii, Fixed(3)),
    field(20, "PAN Country Code", Ascii, Fixed(3)),
    field(21, "Forwarding Institution Country Code", Ascii, Fixed(3)),
    field(22, "Point-of-Service Entry Mode", Ascii, Fixed(3)),
    field(23, "PAN Sequence Number", Ascii, Fixed(3)),
    field(24, "Network International ID (NII)", Ascii, Fixed(3)),
    field(25, "Point-of-Service Condition Code", Ascii, Fixed(2)),
    field(26, "Point-of-Service Capture Code", Ascii, Fixed(2)),
    field(27, "Authorizing ID Response Length", Ascii, Fixed(1)),
    field(28, "Amount, Transaction Fee", Ascii, Fixed(9)),
    field(29, "Amount, Settlement Fee", Ascii, Fixed(9)),
    field(30, "Amount, Transaction Processing Fee", Ascii, Fixed(9)),
    field(31, "Amount, Settlement Processing Fee", Ascii, Fixed(9)),
    field(32, "Acquiring Institution ID Code", Ascii, Ll(11)),
    field(33, "Forwarding Institution ID Code", Ascii, Ll(11)),
    field(34, "Primary Account Number, Extended", Ascii, Ll(28)),
    field(35, "Track 2 Data", Ascii, Ll(37)),
    field(36, "Track 3 Data", Ascii, Lll(104)),
    field(37, "Retrieval Reference Number", Ascii, Fixed(12)),
    field(38, "Authorization ID Response", Ascii, Fixed(6)),
    field(39, "Response Code", Ascii, Fixed(2)),
    field(40, "Service Restriction Code", Ascii, Fixed(3)),
    field(41, "Card Acceptor Terminal ID", Ascii, Fixed(8)),
    field(42, "Card Acceptor ID Code", Ascii, Fixed(15)),
    field(43, "Card Acceptor Name/Location", Ascii, Fixed(40)),
    field(44, "Additional Response Data", Ascii, Ll(25)),
    field(45, "Track 1 Data", Ascii, Ll(76)),
    field(46, "Additional Data - ISO", Ascii, Lll(999)),
    field(47, "Additional Data - National", Ascii, Lll(999)),
    field(48, "Additional Data - Private", Ascii, Lll(999)),
    field(49, "Currency Code, Transaction", Ascii, Fixed(3)),
    field(50, "Currency Code, Settlement", Ascii, Fixed(3)),
    field(51, "Currency Code, Cardholder Billing", Ascii, Fixed(3)),
    field(52, "PIN", Binary, Fixed(8)),
    field(53, "Security-Related Control Information", Ascii, Fixed(16)),
    field(54, "Additional Amounts", Ascii, Lll(240)),
    field(55, "ICC data", Binary, Lll(255)),
    field(56, "Reserved ISO", Ascii, Lll(999)),
    field(57, "Reserved National", Ascii, Lll(999)),
    field(58, "Reserved National", Ascii, Lll(999)),
    field(59, "Reserved National", Ascii, Lll(999)),
    field(60, "Reserved National", Ascii, Lll(999)),
    field(61, "Reserved Private", Ascii, Lll(999)),
    field(62, "Reserved Private", Ascii, Lll(999)),
    field(63, "Reserved Private", Ascii, Lll(999)),
    field(64, "MAC", Binary, Fixed(8)),
    field(65, "Bitmap, Extended", Binary, Fixed(8)),
    field(66, "Settlement Code", Ascii, Fixed(1)),
    field(67, "Extended Payment Code", Ascii, Fixed(2)),
    field(68, "Receiving Institution Country Code", Ascii, Fixed(3)),
    field(69, "Settlement Institution Country Code", Ascii, Fixed(3)),
    field(70, "Network Management Information Code", Ascii, Fixed(3)),
    field(71, "Message Number", Ascii, Fixed(4)),
    field(72, "Message Number, Last", Ascii, Fixed(4)),
    field(73, "Date, Action", Ascii, Fixed(6)),
    field(74, "Credits, Number", Ascii, Fixed(10)),
    field(75, "Credits, Reversal Number", Ascii, Fixed(10)),
    field(76, "Debits, Number", Ascii, Fixed(10)),
    field(77, "Debits, Reversal Number", Ascii, Fixed(10)),
    field(78, "Transfer, Number", Ascii, Fixed(10)),
    field(79, "Transfer, Reversal Number", Ascii, Fixed(10)),
    field(80, "Inquiries, Number", Ascii, Fixed(10)),
    field(81, "Authorizations, Number", Ascii, Fixed(10)),
    field(82, "Credits, Processing Fee Amount", Ascii, Fixed(12)),
    field(83, "Credits, Transaction Fee Amount", Ascii, Fixed(12)),
    field(84, "Debits, Processing Fee Amount", Ascii, Fixed(12)),
    field(85, "Debits, Transaction Fee Amount", Ascii, Fixed(12)),
    field(86, "Credits, Amount", Ascii, Fixed(16)),
    field(87, "Credits, Reversal Amount", Ascii, Fixed(16)),
    field(88, "Debits, Amount", Ascii, Fixed(16)),
    field(89, "Debits, Reversal Amount", Ascii, Fixed(16)),
    field(90, "Original Data Elements", Ascii, Fixed(42)),
    field(91, "File Update Code", Ascii, Fixed(1)),
    field(92, "File Security Code", Ascii, Fixed(2)),
    field(93, "Response Indicator", Ascii, Fixed(5)),
    field(94, "Service Indicator", Ascii, Fixed(7)),
    field(95, "Replacement Amounts", Ascii, Fixed(42)),
    field(96, "Message Security Code", Binary, Fixed(8)),
    field(97, "Amount, Net Settlement", Ascii, Fixed(17)),
    field(98, "Payee", Ascii, Fixed(25)),
    field(99, "Settlement Institution ID Code", Ascii, Ll(11)),
    field(100, "Receiving Institution ID Code", Ascii, Ll(11)),
    field(101, "File Name", Ascii, Ll(17)),
    field(102, "Account ID 1", Ascii, Ll(28)),
    field(103, "Account ID 2", Ascii, Ll(28)),
    field(104, "Transaction Description", Ascii, Lll(100)),
    field(105, "Reserved for ISO Use", Ascii, Lll(999)),
    field(106, "Reserved for ISO Use", Ascii, Lll(999)),
    field(107, "Reserved for ISO Use", Ascii, Lll(999)),
    field(108, "Reserved for ISO Use", Ascii, Lll(999)),
    field(109, "Reserved for ISO Use", Ascii, Lll(999)),
    field(110, "Reserved for ISO Use", Ascii, Lll(999)),
    field(111, "Reserved for ISO Use", Ascii, Lll(999)),
    field(112, "Reserved for National Use", Ascii, Lll(999)),
    field(113, "Reserved for National Use", Ascii, Lll(999)),
    field(114, "Reserved for National Use", Ascii, Lll(999)),
    field(115, "Reserved for National Use", Ascii, Lll(999)),
    field(116, "Reserved for National Use", Ascii, Lll(999)),
    field(117, "Reserved for National Use", Ascii, Lll(999)),
    field(118, "Reserved for National Use", Ascii, Lll(999)),
    field(119, "Reserved for National Use", Ascii, Lll(999)),
    field(120, "Reserved for Private Use", Ascii, Lll(999)),
    field(121, "Reserved for Private Use", Ascii, Lll(999)),
    field(122, "Reserved for Private Use", Ascii, Lll(999)),
    field(123, "Reserved for Private Use", Ascii, Lll(999)),
    field(124, "Reserved for Private Use", Ascii, Lll(999)),
    field(125, "Reserved for Private Use", Ascii, Lll(999)),
    field(126, "Reserved for Private Use", Ascii, Lll(999)),
    field(127, "Reserved for Private Use", Ascii, Lll(999)),
    field(128, "MAC", Binary, Fixed(8)),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_spec_has_every_field_from_2_to_128() {
        let spec = Spec::default_1987();
        for number in 2..=FIELD_NUMBER_MAX {
            assert_eq!(spec.field(number).map(|f| f.number), Some(number));
        }
        assert!(spec.field(1).is_none());
        assert_eq!(spec.field(2).map(|f| f.length), Some(Length::Ll(19)));
        assert_eq!(spec.field(55).map(|f| (f.encoding, f.length)), Some((Encoding::Binary, Length::Lll(255))));
        assert_eq!(spec.field(52).map(|f| (f.encoding, f.length)), Some((Encoding::Binary, Length::Fixed(8))));
        assert_eq!(spec.field(90).map(|f| f.length), Some(Length::Fixed(42)));
    }
}
