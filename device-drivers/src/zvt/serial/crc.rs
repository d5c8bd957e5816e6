//! CRC-16/KERMIT: reflected polynomial 0x8408 (0x1021 reversed), initial value 0, no final xor.

use super::ETX;

/// CRC-16/KERMIT of `bytes`. The check value of `"123456789"` is `0x2189`.
pub fn crc16_kermit(bytes: &[u8]) -> u16 {
    bytes.iter().fold(0u16, |crc, &byte| update(crc, byte))
}

/// The CRC a frame carries: over the unstuffed APDU followed by the `ETX` byte.
pub fn frame_crc(apdu_bytes: &[u8]) -> u16 {
    update(crc16_kermit(apdu_bytes), ETX)
}

fn update(crc: u16, byte: u8) -> u16 {
    let mut crc = crc ^ u16::from(byte);
    for _ in 0..8 {
        crc = if crc & 1 == 1 { (crc >> 1) ^ 0x8408 } else { crc >> 1 };
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value() {
        assert_eq!(crc16_kermit(b"123456789"), 0x2189);
        assert_eq!(crc16_kermit(b""), 0);
    }

    #[test]
    fn positive_acknowledgement_frame_crc() {
        // `10 02 80 00 00 10 03 f5 1f`: low byte first.
        assert_eq!(frame_crc(&[0x80, 0x00, 0x00]), 0x1FF5);
    }
}
