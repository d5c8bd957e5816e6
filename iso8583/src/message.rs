//! A message: its type indicator and its fields as bytes, with masked `Debug` and `Display`.

use std::collections::BTreeMap;
use std::fmt;

use crate::fields;

/// The message type indicator: four ASCII digits (`0200`, `0810`, …).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mti([u8; 4]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("message type {0:?} is not four ASCII digits")]
pub struct InvalidMti(pub String);

impl Mti {
    pub const AUTHORIZATION_REQUEST: Mti = Mti(*b"0100");
    pub const FINANCIAL_REQUEST: Mti = Mti(*b"0200");
    pub const FINANCIAL_RESPONSE: Mti = Mti(*b"0210");
    pub const REVERSAL_REQUEST: Mti = Mti(*b"0400");
    pub const REVERSAL_REPEAT: Mti = Mti(*b"0401");
    pub const REVERSAL_RESPONSE: Mti = Mti(*b"0410");
    pub const NETWORK_REQUEST: Mti = Mti(*b"0800");
    pub const NETWORK_RESPONSE: Mti = Mti(*b"0810");

    pub fn parse(text: &str) -> Result<Mti, InvalidMti> {
        Mti::from_bytes(text.as_bytes()).ok_or_else(|| InvalidMti(text.to_string()))
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<Mti> {
        let array: [u8; 4] = bytes.try_into().ok()?;
        array.iter().all(u8::is_ascii_digit).then_some(Mti(array))
    }

    pub fn as_bytes(&self) -> &[u8; 4] {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("????")
    }

    /// The answer's type: the third digit goes from request (0) to response (1); a repeat
    /// (`0401`) is answered like its original (`0410`).
    pub fn response(self) -> Mti {
        let mut digits = self.0;
        digits[2] = b'1';
        digits[3] = b'0';
        Mti(digits)
    }

    pub fn is_response(self) -> bool {
        self.0[2] == b'1'
    }
}

impl fmt::Debug for Mti {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mti({})", self.as_str())
    }
}

impl fmt::Display for Mti {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An ISO 8583 message. Field values are the bytes as they travel (ASCII text for ASCII fields);
/// the codec checks them against the spec. Field 1 (the secondary bitmap) is never stored: the
/// codec derives it.
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    pub mti: Mti,
    fields: BTreeMap<u8, Vec<u8>>,
}

impl Message {
    pub fn new(mti: Mti) -> Message {
        Message { mti, fields: BTreeMap::new() }
    }

    /// Sets a field's bytes (replacing any earlier value).
    pub fn set(&mut self, number: u8, value: impl Into<Vec<u8>>) -> &mut Message {
        self.fields.insert(number, value.into());
        self
    }

    /// Builder form of [`Message::set`].
    pub fn with(mut self, number: u8, value: impl Into<Vec<u8>>) -> Message {
        self.set(number, value);
        self
    }

    pub fn remove(&mut self, number: u8) -> Option<Vec<u8>> {
        self.fields.remove(&number)
    }

    pub fn get(&self, number: u8) -> Option<&[u8]> {
        self.fields.get(&number).map(Vec::as_slice)
    }

    /// A field as text, if present and ASCII.
    pub fn text(&self, number: u8) -> Option<&str> {
        self.get(number).and_then(|bytes| std::str::from_utf8(bytes).ok())
    }

    pub fn has(&self, number: u8) -> bool {
        self.fields.contains_key(&number)
    }

    pub fn fields(&self) -> impl Iterator<Item = (u8, &[u8])> {
        self.fields.iter().map(|(n, v)| (*n, v.as_slice()))
    }

    /// The answer to this request: response MTI, with the fields that identify the exchange
    /// (PROTOCOLS.md §1 matches responses by fields 11 and 41) and the amount echoed.
    pub fn response_skeleton(&self) -> Message {
        let mut response = Message::new(self.mti.response());
        for number in [
            fields::PROCESSING_CODE,
            fields::AMOUNT,
            fields::TRANSMISSION_DATE_TIME,
            fields::STAN,
            fields::TERMINAL_ID,
            fields::MERCHANT_ID,
            fields::CURRENCY,
            fields::NETWORK_MANAGEMENT_CODE,
        ] {
            if let Some(value) = self.get(number) {
                response.set(number, value.to_vec());
            }
        }
        response
    }
}

/// How a field may be shown: card data never appears whole.
fn shown(number: u8, value: &[u8]) -> String {
    match number {
        fields::PAN => mask_digits(value),
        fields::TRACK_2 => {
            // Track 2 is PAN, separator, expiry, service code, discretionary data: show the masked
            // PAN part only.
            let pan: Vec<u8> = value.iter().copied().take_while(u8::is_ascii_digit).collect();
            format!("{} [track 2 redacted]", mask_digits(&pan))
        }
        fields::TRACK_1 => "[track 1 redacted]".to_string(),
        fields::PIN_DATA => "[PIN block redacted]".to_string(),
        fields::ICC_DATA => format!("[ICC data, {} bytes redacted]", value.len()),
        _ => match std::str::from_utf8(value) {
            Ok(text) if text.bytes().all(|b| (0x20..0x7f).contains(&b)) => format!("{text:?}"),
            _ => format!("0x{}", value.iter().map(|b| format!("{b:02X}")).collect::<String>()),
        },
    }
}

fn mask_digits(value: &[u8]) -> String {
    match std::str::from_utf8(value).ok().and_then(|text| pos_core::mask_pan(text).ok()) {
        Some(masked) => masked.to_string(),
        None => format!("[{} characters redacted]", value.len()),
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        map.entry(&"mti", &self.mti.as_str());
        for (number, value) in &self.fields {
            map.entry(number, &format_args!("{}", shown(*number, value)));
        }
        map.finish()
    }
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.mti)?;
        for (number, value) in &self.fields {
            write!(f, " {number}={}", shown(*number, value))?;
        }
        Ok(())
    }
}
