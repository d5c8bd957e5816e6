//! ISO 8583:1987 as this system speaks it: between terminals and the gateway's terminal host,
//! and between the gateway and the card acquirer and e-money centre (PROTOCOLS.md §1).
//!
//! Bytes and meaning are kept apart. [`spec`] is the field table (pyiso8583's `specs.default`),
//! [`codec`] turns bytes into a [`Message`] and back using only that table — no per-field code —
//! and [`framing`] finds message boundaries (2-byte big-endian length) on a stream. Decode errors
//! name the field and byte offset. A message's `Debug` and `Display` never show card data whole:
//! fields 2 and 35 show the masked PAN (first 6 / last 4), 45, 52 and 55 are redacted.
//! [`brand_data`] reads and writes field 48, and [`response`] names the field 39 codes.

pub mod brand_data;
pub mod client;
pub mod codec;
pub mod fields;
pub mod framing;
pub mod message;
pub mod response;
pub mod spec;

pub use brand_data::BrandData;
pub use codec::{decode, encode, DecodeError, EncodeError};
pub use framing::{FrameCodec, FrameError};
pub use message::{Message, Mti};
pub use response::ResponseCode;
pub use spec::Spec;

use pos_core::Yen;

/// Field 4 text for an amount in yen (JPY has no minor unit): 1,500 yen is `000000001500`.
pub fn amount_field(amount: Yen) -> Option<String> {
    (amount.get() >= 0 && amount.get() <= 999_999_999_999).then(|| format!("{:012}", amount.get()))
}

/// The amount in field 4, if present and well formed.
pub fn amount_of(message: &Message) -> Option<Yen> {
    let text = message.text(fields::AMOUNT)?;
    if text.len() != 12 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<i64>().ok().and_then(|v| Yen::new(v).ok())
}

/// Field 90 (original data elements, 42 characters) of a reversal of `original`: the original's
/// MTI (4), STAN (6) and transmission date and time (10), then the acquiring and forwarding
/// institution ids (11 digits each; this system names its acquirer by a numeric id and forwards
/// nothing, so the forwarding id is zeros).
pub fn original_data_elements(original: &Message, acquirer_institution: u64) -> Option<String> {
    let stan = original.text(fields::STAN).filter(|s| s.len() == 6)?;
    let transmitted = original.text(fields::TRANSMISSION_DATE_TIME).filter(|s| s.len() == 10)?;
    (acquirer_institution <= 99_999_999_999)
        .then(|| format!("{}{stan}{transmitted}{acquirer_institution:011}{:011}", original.mti, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_card_data() {
        let message = Message::new(Mti::FINANCIAL_REQUEST)
            .with(fields::PAN, "4111111111111111")
            .with(fields::TRACK_2, "4111111111111111=28121010000012345678")
            .with(fields::PIN_DATA, vec![0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xDE, 0xF0])
            .with(fields::ICC_DATA, vec![0x9F, 0x26, 0x08, 1, 2, 3, 4, 5, 6, 7, 8])
            .with(fields::AMOUNT, amount_field(Yen::new(1500).unwrap()).unwrap());
        for shown in [format!("{message:?}"), message.to_string()] {
            assert!(!shown.contains("4111111111111111"), "{shown}");
            assert!(!shown.contains("28121010000012345678"), "{shown}");
            assert!(!shown.contains("123456789ABCDEF0"), "{shown}");
            assert!(!shown.contains("9F2608"), "{shown}");
            assert!(shown.contains("411111******1111"), "{shown}");
            assert!(shown.contains("000000001500"), "{shown}");
        }
    }

    #[test]
    fn amounts_are_whole_yen() {
        let message = Message::new(Mti::FINANCIAL_REQUEST).with(fields::AMOUNT, "000000001500");
        assert_eq!(amount_of(&message).map(Yen::get), Some(1500));
        assert_eq!(amount_field(Yen::new(470).unwrap()).as_deref(), Some("000000000470"));
        assert_eq!(amount_field(Yen::new(-1).unwrap()), None);
    }
}
