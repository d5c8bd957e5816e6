//! The barcode scanner over a pty pair: the test writes on the device side as a scanner would.

use std::time::Duration;

use device_drivers::scanner::{ScannedCode, Scanner, ScannerError, Suffix, CODE_BYTES_MAX};
use device_drivers::zvt::transport::fd::{pty_pair, FdStream};
use tokio::io::AsyncWriteExt;

/// The bound on waiting for a code (or the end of the stream).
const CODE_WAIT: Duration = Duration::from_secs(5);

fn scanner(suffix: Suffix) -> (Scanner, FdStream<std::fs::File>) {
    let (host_side, device_side) = pty_pair().expect("pty pair");
    (Scanner::spawn(host_side, suffix), device_side)
}

async fn next(scanner: &mut Scanner) -> Option<ScannedCode> {
    tokio::time::timeout(CODE_WAIT, scanner.next_code()).await.expect("the scanner delivered in time")
}

async fn expect_code(scanner: &mut Scanner, expected: &str) {
    let code = next(scanner).await.expect("a code, not the end");
    assert_eq!(code.as_text(), Ok(expected));
}

/// Writes each piece separately, letting the reader run in between, as a slow line delivers.
async fn write_pieces(device: &mut FdStream<std::fs::File>, pieces: &[&[u8]]) {
    for piece in pieces {
        device.write_all(piece).await.expect("write");
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn codes_split_across_writes_arrive_whole_with_each_suffix() {
    for (suffix, end) in [(Suffix::Cr, b"\r".as_slice()), (Suffix::Lf, b"\n"), (Suffix::CrLf, b"\r\n")] {
        let (mut scanner, mut device) = scanner(suffix);
        write_pieces(&mut device, &[b"https://qr.pay", b"pay.ne.jp/28", b"180104", end, b"4912345678904", end]).await;
        expect_code(&mut scanner, "https://qr.paypay.ne.jp/28180104").await;
        expect_code(&mut scanner, "4912345678904").await;
    }
}

#[tokio::test]
async fn the_crlf_suffix_split_between_its_bytes_still_ends_one_code() {
    let (mut scanner, mut device) = scanner(Suffix::CrLf);
    write_pieces(&mut device, &[b"ABC\r", b"\nDEF\r", b"\n"]).await;
    expect_code(&mut scanner, "ABC").await;
    expect_code(&mut scanner, "DEF").await;
}

#[tokio::test]
async fn noise_and_empty_lines_are_skipped() {
    let (mut scanner, mut device) = scanner(Suffix::Lf);
    write_pieces(&mut device, &[b"\x00\x1b\x7f\x02", b"CODE-1\n", b"\n\n \n\r\n", b"\x00CODE-2\n"]).await;
    expect_code(&mut scanner, "CODE-1").await;
    expect_code(&mut scanner, "CODE-2").await;
}

#[tokio::test]
async fn an_over_long_line_is_dropped_and_the_next_code_arrives() {
    let (mut scanner, mut device) = scanner(Suffix::Cr);
    let garbage = vec![b'A'; CODE_BYTES_MAX + 500];
    write_pieces(&mut device, &[&garbage, b"\r", b"NEXT\r"]).await;
    expect_code(&mut scanner, "NEXT").await;
    let exactly_at_limit = vec![b'B'; CODE_BYTES_MAX];
    write_pieces(&mut device, &[&exactly_at_limit, b"\r"]).await;
    let code = next(&mut scanner).await.expect("a code at the limit is accepted");
    assert_eq!(code.as_bytes(), exactly_at_limit.as_slice());
}

#[tokio::test]
async fn the_stream_ends_when_the_device_closes() {
    let (mut scanner, mut device) = scanner(Suffix::Cr);
    write_pieces(&mut device, &[b"LAST\r"]).await;
    expect_code(&mut scanner, "LAST").await;
    drop(device);
    assert_eq!(next(&mut scanner).await, None);
    let reason = tokio::time::timeout(CODE_WAIT, scanner.stopped()).await.expect("the reader ended in time");
    assert!(matches!(reason, ScannerError::Closed), "{reason:?}");
}
