//! Message boundaries on a stream: each message is preceded by its length as a 2-byte big-endian
//! unsigned integer (PROTOCOLS.md §1).

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

/// The protocol's own ceiling on a frame (a 2-byte length).
pub const FRAME_BYTES_MAX: usize = 65_535;

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {length} bytes exceeds the limit of {max}")]
    TooLarge { length: usize, max: usize },
    #[error("empty frame (length 0)")]
    Empty,
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// The length-prefix framer. It yields each frame's payload; turning it into a [`crate::Message`]
/// is the codec's job, so a frame whose content is garbage can be answered or logged while the
/// stream stays usable.
#[derive(Debug, Clone, Copy)]
pub struct FrameCodec {
    max: usize,
}

impl FrameCodec {
    pub fn new() -> FrameCodec {
        FrameCodec { max: FRAME_BYTES_MAX }
    }

    /// A framer that refuses frames above `max` bytes (at most [`FRAME_BYTES_MAX`]).
    pub fn with_max(max: usize) -> FrameCodec {
        FrameCodec { max: max.min(FRAME_BYTES_MAX) }
    }
}

impl Default for FrameCodec {
    fn default() -> Self {
        FrameCodec::new()
    }
}

impl Decoder for FrameCodec {
    type Item = Bytes;
    type Error = FrameError;

    fn decode(&mut self, source: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        if source.len() < 2 {
            return Ok(None);
        }
        let length = usize::from(u16::from_be_bytes([source[0], source[1]]));
        if length == 0 {
            return Err(FrameError::Empty);
        }
        if length > self.max {
            return Err(FrameError::TooLarge { length, max: self.max });
        }
        if source.len() < 2 + length {
            source.reserve(2 + length - source.len());
            return Ok(None);
        }
        source.advance(2);
        Ok(Some(source.split_to(length).freeze()))
    }
}

impl Encoder<&[u8]> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, payload: &[u8], destination: &mut BytesMut) -> Result<(), FrameError> {
        if payload.is_empty() {
            return Err(FrameError::Empty);
        }
        let length = u16::try_from(payload.len())
            .ok()
            .filter(|l| usize::from(*l) <= self.max)
            .ok_or(FrameError::TooLarge { length: payload.len(), max: self.max })?;
        destination.reserve(2 + payload.len());
        destination.put_u16(length);
        destination.put_slice(payload);
        Ok(())
    }
}

impl Encoder<Vec<u8>> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, payload: Vec<u8>, destination: &mut BytesMut) -> Result<(), FrameError> {
        self.encode(payload.as_slice(), destination)
    }
}

/// Frames a payload without a codec object (tests, simulators).
pub fn frame(payload: &[u8]) -> Result<Vec<u8>, FrameError> {
    let mut buffer = BytesMut::new();
    FrameCodec::new().encode(payload, &mut buffer)?;
    Ok(buffer.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn splits_a_stream_into_frames() {
        let mut codec = FrameCodec::new();
        let mut buffer = BytesMut::new();
        buffer.extend_from_slice(&[0, 3, b'a', b'b']);
        assert!(codec.decode(&mut buffer).unwrap().is_none());
        buffer.extend_from_slice(&[b'c', 0, 1, b'd']);
        assert_eq!(codec.decode(&mut buffer).unwrap().unwrap().as_ref(), b"abc");
        assert_eq!(codec.decode(&mut buffer).unwrap().unwrap().as_ref(), b"d");
        assert!(codec.decode(&mut buffer).unwrap().is_none());
    }

    #[test]
    fn refuses_oversized_and_empty_frames() {
        let mut codec = FrameCodec::with_max(4);
        let mut buffer = BytesMut::from(&[0u8, 5, 1, 2, 3, 4, 5][..]);
        assert!(matches!(codec.decode(&mut buffer), Err(FrameError::TooLarge { length: 5, max: 4 })));
        let mut empty = BytesMut::from(&[0u8, 0][..]);
        assert!(matches!(FrameCodec::new().decode(&mut empty), Err(FrameError::Empty)));
    }

    proptest! {
        #[test]
        fn frames_round_trip_in_any_chunking(payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..300), 1..8), chunk in 1usize..50) {
            let mut wire = Vec::new();
            for payload in &payloads {
                wire.extend(frame(payload).unwrap());
            }
            let mut codec = FrameCodec::new();
            let mut buffer = BytesMut::new();
            let mut out = Vec::new();
            for piece in wire.chunks(chunk) {
                buffer.extend_from_slice(piece);
                while let Some(frame) = codec.decode(&mut buffer).unwrap() {
                    out.push(frame.to_vec());
                }
            }
            prop_assert_eq!(out, payloads);
        }
    }
}
