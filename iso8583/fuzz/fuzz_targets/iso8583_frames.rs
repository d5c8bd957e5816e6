//! The length-prefix framer never panics on any stream, however it is cut.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

fuzz_target!(|data: &[u8]| {
    let mut codec = iso8583::FrameCodec::new();
    let mut buffer = BytesMut::new();
    for chunk in data.chunks(7) {
        buffer.extend_from_slice(chunk);
        while let Ok(Some(frame)) = codec.decode(&mut buffer) {
            let _ = iso8583::decode(&frame, iso8583::Spec::default_1987());
        }
    }
});
