//! `counterd --version` and `terminal-sim --version` name the version and the commit the binaries
//! were built from.

fn version_of(binary: &str) -> String {
    let output = std::process::Command::new(binary).arg("--version").output().expect("run");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn both_binaries_answer_version_with_their_commit() {
    assert_eq!(version_of(env!("CARGO_BIN_EXE_counterd")), pos_build_info::version_line("counterd"));
    assert_eq!(version_of(env!("CARGO_BIN_EXE_terminal-sim")), pos_build_info::version_line("terminal-sim"));
}
