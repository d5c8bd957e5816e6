//! The binary: prints `listening on ADDR` first, serves with its development TLS, and writes
//! today's settlement file when stopped.

use std::process::Stdio;

use iso8583::fields;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::support::*;

#[tokio::test]
async fn the_binary_serves_and_writes_the_settlement_file_on_stop() {
    let dir = tempfile::tempdir().unwrap();
    let tls_dir = dir.path().join("tls");
    let settlement_dir = dir.path().join("settlement");
    let mut child = Command::new(env!("CARGO_BIN_EXE_acquirer-sim"))
        .args(["--centre", "card", "--listen", "127.0.0.1:0", "--fault", "duplicate:purchase:1"])
        .arg("--dev-tls")
        .arg(&tls_dir)
        .arg("--settlement-dir")
        .arg(&settlement_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(DEADLINE, lines.next_line()).await.unwrap().unwrap().unwrap();
    let address = first.strip_prefix("listening on ").unwrap_or_else(|| panic!("first line: {first}"));

    let ca = std::fs::read(tls_dir.join("ca.crt")).unwrap();
    let tls = pos_tls::client_config_from_pem(&ca, None).unwrap();
    let mut client = Client::try_connect(address.parse().unwrap(), &tls).await.unwrap();
    assert_eq!(code_of(&client.request(&network("000001", fields::NETWORK_SIGN_ON)).await), "00");
    let answer = client.request(&purchase("000002", 1500)).await;
    assert_eq!(code_of(&answer), "00");
    assert_eq!(client.answer().await, answer, "the --fault plan applies");

    let stopped = std::process::Command::new("kill").args(["-INT", &child.id().unwrap().to_string()]).status().unwrap();
    assert!(stopped.success());
    let status = tokio::time::timeout(DEADLINE, child.wait()).await.unwrap().unwrap();
    assert!(status.success(), "{status}");
    let files: Vec<_> = std::fs::read_dir(&settlement_dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].to_string_lossy().to_string();
    assert!(name.starts_with("card-settlement-") && name.ends_with(".csv"), "{name}");
    let content = std::fs::read_to_string(settlement_dir.join(&name)).unwrap();
    assert!(content.contains(",411111******1111,1500,48,1452,"), "{content}");
}

#[test]
fn the_binary_answers_version_with_its_commit() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_acquirer-sim")).arg("--version").output().expect("run");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), pos_build_info::version_line("acquirer-sim"));
}
