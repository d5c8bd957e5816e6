//! The TLV container carried under BMP `06`.
//!
//! Tags follow the BER rules: a tag whose first byte has the five low bits set continues while the
//! following bytes have their high bit set; bit 6 (`0x20`) of the first byte marks a constructed
//! tag, whose value is itself a list of tag-length-value objects. Lengths follow the ZVT form of
//! the BER rules: one byte below `0x80`, else `81 nn` or `82 nn nn` (big-endian). The decoder
//! accepts a longer length form than needed, as BER does; the encoder always writes the shortest.
//!
//! Decoding is bounded: nesting stops at [`TLV_DEPTH_MAX`] levels and a tag at
//! [`TLV_TAG_BYTES_MAX`] bytes, so hostile input cannot exhaust the stack.

use std::fmt;

use super::EncodeError;

/// How many constructed tags the decoder follows one inside another. ZVT nests two or three.
pub const TLV_DEPTH_MAX: usize = 8;
/// The longest tag the decoder reads; ZVT tags are one to three bytes.
pub const TLV_TAG_BYTES_MAX: usize = 4;
/// The longest value a ZVT TLV length (`82 nn nn`) can express.
pub const TLV_VALUE_BYTES_MAX: usize = 0xFFFF;

/// A BER tag, held as its bytes read as a big-endian number (`1F 10` is `0x1F10`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TlvTag(u32);

/// The value of a TLV object: bytes, or (for a constructed tag) more objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlvValue {
    Primitive(Vec<u8>),
    Constructed(Vec<TlvObject>),
}

/// One tag-length-value object whose value always agrees with its tag's constructed bit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlvObject {
    tag: TlvTag,
    value: TlvValue,
}

/// The objects under BMP `06`; `06 00` is the empty container.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlvContainer {
    objects: Vec<TlvObject>,
}

/// Why bytes are not a TLV list. Offsets count from the first byte handed to the decoder (the
/// APDU's class byte when the TLV is read as part of a command).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlvError {
    #[error("TLV ends at byte {offset}: expected {expected}")]
    Truncated { offset: usize, expected: &'static str },
    #[error("TLV length at byte {offset} starts with {byte:#04x}; expected a byte below 0x80, or 0x81 or 0x82 followed by the length")]
    InvalidLength { offset: usize, byte: u8 },
    #[error("TLV length at byte {offset} says {declared} bytes, but only {available} remain")]
    LongerThanData { offset: usize, declared: usize, available: usize },
    #[error("TLV tag at byte {offset} is longer than {TLV_TAG_BYTES_MAX} bytes")]
    TagTooLong { offset: usize },
    #[error("TLV value at byte {offset} is nested in more than {TLV_DEPTH_MAX} constructed tags")]
    TooDeep { offset: usize },
}

impl TlvTag {
    /// A tag from its bytes read as a big-endian number, if they form a valid BER tag.
    pub fn new(value: u32) -> Result<TlvTag, EncodeError> {
        let tag = TlvTag(value);
        let bytes = tag.bytes();
        let invalid = |reason| Err(EncodeError::InvalidTlvTag { tag: value, reason });
        let first = bytes[0];
        if bytes.len() == 1 {
            if first & 0x1F == 0x1F {
                return invalid("a first byte with the five low bits set announces more tag bytes");
            }
            return Ok(tag);
        }
        if first & 0x1F != 0x1F {
            return invalid("a tag of several bytes starts with the five low bits set");
        }
        let (last, middle) = match bytes[1..].split_last() {
            Some(split) => split,
            None => return invalid("a tag of several bytes has a second byte"),
        };
        if middle.iter().any(|byte| byte & 0x80 == 0) {
            return invalid("every tag byte but the last has its high bit set");
        }
        if last & 0x80 != 0 {
            return invalid("the last tag byte has its high bit clear");
        }
        Ok(tag)
    }

    pub fn value(self) -> u32 {
        self.0
    }

    /// The tag's bytes as sent: the big-endian number without leading zero bytes.
    pub fn bytes(self) -> Vec<u8> {
        let all = self.0.to_be_bytes();
        let first_used = all.iter().position(|&byte| byte != 0).unwrap_or(all.len() - 1);
        all[first_used..].to_vec()
    }

    /// Whether the value is a list of objects (bit 6 of the first byte).
    pub fn is_constructed(self) -> bool {
        self.bytes()[0] & 0x20 != 0
    }
}

impl fmt::Debug for TlvTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TlvTag({:#04x})", self.0)
    }
}

impl fmt::Display for TlvTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.bytes() {
            write!(f, "{byte:02X}")?;
        }
        Ok(())
    }
}

impl TlvObject {
    /// A primitive object; the tag must not be constructed.
    pub fn primitive(tag: TlvTag, value: Vec<u8>) -> Result<TlvObject, EncodeError> {
        if tag.is_constructed() {
            return Err(EncodeError::TlvConstructionMismatch {
                tag: tag.value(),
                actual: "constructed",
                given: "primitive",
            });
        }
        if value.len() > TLV_VALUE_BYTES_MAX {
            return Err(EncodeError::TlvValueTooLong { length: value.len() });
        }
        Ok(TlvObject { tag, value: TlvValue::Primitive(value) })
    }

    /// A constructed object holding `children`; the tag must be constructed.
    pub fn constructed(tag: TlvTag, children: Vec<TlvObject>) -> Result<TlvObject, EncodeError> {
        if !tag.is_constructed() {
            return Err(EncodeError::TlvConstructionMismatch {
                tag: tag.value(),
                actual: "primitive",
                given: "constructed",
            });
        }
        Ok(TlvObject { tag, value: TlvValue::Constructed(children) })
    }

    pub fn tag(&self) -> TlvTag {
        self.tag
    }

    pub fn value(&self) -> &TlvValue {
        &self.value
    }

    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        out.extend_from_slice(&self.tag.bytes());
        match &self.value {
            TlvValue::Primitive(bytes) => {
                encode_length(bytes.len(), out)?;
                out.extend_from_slice(bytes);
            }
            TlvValue::Constructed(children) => {
                let mut inner = Vec::new();
                for child in children {
                    child.encode_into(&mut inner)?;
                }
                encode_length(inner.len(), out)?;
                out.extend_from_slice(&inner);
            }
        }
        Ok(())
    }
}

impl TlvContainer {
    pub fn new(objects: Vec<TlvObject>) -> TlvContainer {
        TlvContainer { objects }
    }

    /// The container sent as `06 00`.
    pub fn empty() -> TlvContainer {
        TlvContainer::default()
    }

    pub fn objects(&self) -> &[TlvObject] {
        &self.objects
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// The first top-level object with this tag.
    pub fn find(&self, tag: TlvTag) -> Option<&TlvObject> {
        self.objects.iter().find(|object| object.tag == tag)
    }

    /// The objects one after another, without the BMP `06` tag and length around them.
    pub fn encode_value(&self) -> Result<Vec<u8>, EncodeError> {
        let mut bytes = Vec::new();
        for object in &self.objects {
            object.encode_into(&mut bytes)?;
        }
        if bytes.len() > TLV_VALUE_BYTES_MAX {
            return Err(EncodeError::TlvValueTooLong { length: bytes.len() });
        }
        Ok(bytes)
    }
}

/// Writes a length in the shortest ZVT form.
pub fn encode_length(length: usize, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    match length {
        0..=0x7F => out.push(length as u8),
        0x80..=0xFF => out.extend_from_slice(&[0x81, length as u8]),
        0x100..=TLV_VALUE_BYTES_MAX => {
            out.push(0x82);
            out.extend_from_slice(&(length as u16).to_be_bytes());
        }
        _ => return Err(EncodeError::TlvValueTooLong { length }),
    }
    Ok(())
}

/// Reads a length at `position` of `bytes`: the length and how many bytes it took.
/// `base_offset` is the offset of `bytes[0]`, for error messages.
pub fn decode_length(bytes: &[u8], position: usize, base_offset: usize) -> Result<(usize, usize), TlvError> {
    let offset = base_offset + position;
    let first = *bytes.get(position).ok_or(TlvError::Truncated { offset, expected: "a TLV length" })?;
    let extra = match first {
        0x00..=0x7F => return Ok((usize::from(first), 1)),
        0x81 => 1,
        0x82 => 2,
        _ => return Err(TlvError::InvalidLength { offset, byte: first }),
    };
    let length_bytes = bytes
        .get(position + 1..position + 1 + extra)
        .ok_or(TlvError::Truncated { offset: base_offset + bytes.len(), expected: "the rest of a TLV length" })?;
    let length = length_bytes.iter().fold(0usize, |length, &byte| (length << 8) | usize::from(byte));
    Ok((length, 1 + extra))
}

/// Decodes a list of TLV objects filling all of `bytes` (the value of BMP `06`).
/// `base_offset` is the offset of `bytes[0]`, for error messages.
pub fn decode_objects(bytes: &[u8], base_offset: usize) -> Result<TlvContainer, TlvError> {
    Ok(TlvContainer { objects: decode_list(bytes, base_offset, 0)? })
}

/// Decodes a TLV list from untrusted bytes; an entry point for fuzzing. Never panics.
pub fn decode_container(bytes: &[u8]) -> Result<TlvContainer, TlvError> {
    decode_objects(bytes, 0)
}

fn decode_list(bytes: &[u8], base_offset: usize, depth: usize) -> Result<Vec<TlvObject>, TlvError> {
    if depth > TLV_DEPTH_MAX {
        return Err(TlvError::TooDeep { offset: base_offset });
    }
    let mut objects = Vec::new();
    let mut position = 0;
    while position < bytes.len() {
        let (object, used) = decode_object(bytes, position, base_offset, depth)?;
        objects.push(object);
        position += used;
    }
    Ok(objects)
}

fn decode_object(
    bytes: &[u8],
    position: usize,
    base_offset: usize,
    depth: usize,
) -> Result<(TlvObject, usize), TlvError> {
    let (tag, tag_length) = decode_tag(bytes, position, base_offset)?;
    let length_position = position + tag_length;
    let (value_length, length_length) = decode_length(bytes, length_position, base_offset)?;
    let value_position = length_position + length_length;
    let available = bytes.len() - value_position;
    if value_length > available {
        return Err(TlvError::LongerThanData {
            offset: base_offset + length_position,
            declared: value_length,
            available,
        });
    }
    let value_bytes = &bytes[value_position..value_position + value_length];
    let value = if tag.is_constructed() {
        TlvValue::Constructed(decode_list(value_bytes, base_offset + value_position, depth + 1)?)
    } else {
        TlvValue::Primitive(value_bytes.to_vec())
    };
    Ok((TlvObject { tag, value }, tag_length + length_length + value_length))
}

fn decode_tag(bytes: &[u8], position: usize, base_offset: usize) -> Result<(TlvTag, usize), TlvError> {
    let offset = base_offset + position;
    let first = *bytes.get(position).ok_or(TlvError::Truncated { offset, expected: "a TLV tag" })?;
    let mut value = u32::from(first);
    let mut length = 1;
    if first & 0x1F == 0x1F {
        loop {
            let byte = *bytes
                .get(position + length)
                .ok_or(TlvError::Truncated { offset: offset + length, expected: "the next byte of a TLV tag" })?;
            length += 1;
            if length > TLV_TAG_BYTES_MAX {
                return Err(TlvError::TagTooLong { offset });
            }
            value = (value << 8) | u32::from(byte);
            if byte & 0x80 == 0 {
                break;
            }
        }
    }
    Ok((TlvTag(value), length))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(value: u32) -> TlvTag {
        TlvTag::new(value).unwrap()
    }

    #[test]
    fn empty_container() {
        assert_eq!(TlvContainer::empty().encode_value().unwrap(), Vec::<u8>::new());
        assert_eq!(decode_container(&[]).unwrap(), TlvContainer::empty());
    }

    #[test]
    fn primitive_and_nested_objects_round_trip() {
        let inner = TlvObject::primitive(tag(0x1F10), vec![0x01]).unwrap();
        let list = TlvObject::constructed(tag(0x26), vec![TlvObject::primitive(tag(0x0A), vec![0x06, 0x01]).unwrap()])
            .unwrap();
        let container = TlvContainer::new(vec![inner, list]);
        let bytes = container.encode_value().unwrap();
        assert_eq!(bytes, vec![0x1F, 0x10, 0x01, 0x01, 0x26, 0x04, 0x0A, 0x02, 0x06, 0x01]);
        assert_eq!(decode_container(&bytes).unwrap(), container);
        assert!(container.find(tag(0x26)).is_some());
        assert_eq!(tag(0x1F10).to_string(), "1F10");
    }

    #[test]
    fn lengths_use_the_ber_forms() {
        let mut out = Vec::new();
        encode_length(0x7F, &mut out).unwrap();
        encode_length(0x80, &mut out).unwrap();
        encode_length(0x1234, &mut out).unwrap();
        assert_eq!(out, vec![0x7F, 0x81, 0x80, 0x82, 0x12, 0x34]);
        assert_eq!(decode_length(&[0x81, 0x05], 0, 0).unwrap(), (5, 2));
        assert_eq!(decode_length(&[0x80], 0, 10), Err(TlvError::InvalidLength { offset: 10, byte: 0x80 }));
        assert_eq!(decode_length(&[0x83, 0, 0, 1], 0, 0), Err(TlvError::InvalidLength { offset: 0, byte: 0x83 }));
        assert!(encode_length(0x1_0000, &mut out).is_err());
    }

    #[test]
    fn tags_are_checked() {
        assert!(TlvTag::new(0x1F).is_err());
        assert!(TlvTag::new(0x0A1F).is_err());
        assert!(TlvTag::new(0x1F81).is_err());
        assert!(TlvTag::new(0x1F8100).is_ok());
        assert!(TlvObject::primitive(tag(0x26), vec![]).is_err());
        assert!(TlvObject::constructed(tag(0x0A), vec![]).is_err());
    }

    #[test]
    fn decode_errors_name_offsets() {
        assert_eq!(
            decode_objects(&[0x0A, 0x05, 0x01], 7),
            Err(TlvError::LongerThanData { offset: 8, declared: 5, available: 1 })
        );
        assert_eq!(decode_objects(&[0x0A], 7), Err(TlvError::Truncated { offset: 8, expected: "a TLV length" }));
        assert_eq!(decode_container(&[0x1F, 0x81, 0x82, 0x83, 0x01]), Err(TlvError::TagTooLong { offset: 0 }));
        // One constructed tag 26 inside another, each length covering the rest, one level too deep.
        let levels = TLV_DEPTH_MAX + 1;
        let mut bytes = Vec::new();
        for level in 0..levels {
            bytes.push(0x26);
            bytes.push(((levels - level - 1) * 2) as u8);
        }
        assert!(decode_container(&bytes[2..]).is_ok());
        assert!(matches!(decode_container(&bytes), Err(TlvError::TooDeep { .. })));
    }
}
