//! counterd as a service: the example settings file in `deploy/` loads, and the binary stops on
//! SIGTERM as on Ctrl-C, cleanly and promptly when no command is in progress, logging in JSON when
//! asked. (That a command in progress ends first is `tests/tests/it/counterd_service.rs`.)

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use device_drivers::counterd::SettingsFile;

/// How long counterd may take to stop when idle.
const STOP_MS_MAX: u64 = 10_000;

#[test]
fn the_example_settings_file_loads() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/counterd/counterd.toml");
    let file = SettingsFile::load(std::path::Path::new(path)).expect("deploy/counterd/counterd.toml loads");
    assert_eq!(file.register, "R0101");
    assert!(file.gateway_url.starts_with("https://"));
    assert!(file.ca_file.is_some() && file.client_cert_file.is_some() && file.client_key_file.is_some());
    assert!(file.terminal.parse::<device_drivers::counterd::TerminalAddress>().is_ok());
    // A charge in progress must fit in the unit's TimeoutStopSec (200 s), or systemd kills it.
    let unit = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/systemd/counterd.service"))
        .expect("unit");
    let stop_seconds: u64 = unit
        .lines()
        .find_map(|line| line.strip_prefix("TimeoutStopSec=")?.strip_suffix('s')?.parse().ok())
        .expect("TimeoutStopSec=Ns");
    assert!(file.bounds.charge_deadline_ms.max(file.bounds.end_of_day_deadline_ms) / 1000 + 10 <= stop_seconds);
}

#[test]
fn sigterm_stops_counterd_cleanly() {
    let dir = tempfile::tempdir().expect("dir");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port();
    let settings = dir.path().join("counterd.toml");
    std::fs::write(
        &settings,
        format!(
            "gateway_url = \"http://127.0.0.1:{closed}\"\nregister = \"R0101\"\nterminal = \"tcp:127.0.0.1:{closed}\"\n\
             state_file = {:?}\nfacility_name = \"市民課\"\ncity_name = \"見本市\"\n",
            dir.path().join("state.json")
        ),
    )
    .expect("settings");
    let mut child = Command::new(env!("CARGO_BIN_EXE_counterd"))
        .args(["--log-format", "json", "--settings"])
        .arg(&settings)
        .env("COUNTERD_TOKEN", "demo-device-r0101")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("counterd starts");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut message_of = move || -> Option<String> {
        let line = lines.next()?.expect("read");
        let object: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        Some(object["fields"]["message"].as_str().unwrap_or_default().to_string())
    };
    while message_of().is_some_and(|message| message != "counterd started") {}

    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    // The exit is waited for as an event (a thread in `wait`), bounded by STOP_MS_MAX.
    let (exited, exit) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = exited.send(child.wait().expect("wait"));
    });
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
    let status = exit.recv_timeout(Duration::from_millis(STOP_MS_MAX)).unwrap_or_else(|_| {
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        panic!("counterd did not stop within {STOP_MS_MAX} ms")
    });
    assert!(status.success(), "{status:?}");
    let mut rest = Vec::new();
    while let Some(message) = message_of() {
        rest.push(message);
    }
    assert!(rest.iter().any(|m| m.contains("stopping")), "{rest:?}");
    assert_eq!(rest.last().map(String::as_str), Some("counterd stopped"), "{rest:?}");
}
