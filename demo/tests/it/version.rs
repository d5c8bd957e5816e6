//! `demo --version` names the version and the commit the binary was built from.

#[test]
fn the_binary_answers_version_with_its_commit() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_demo")).arg("--version").output().expect("run");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), pos_build_info::version_line("demo"));
}
