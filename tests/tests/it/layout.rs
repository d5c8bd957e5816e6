//! The workspace's dependency rules (docs/architecture.md): which of our crates each crate may
//! depend on, read from every member's own `Cargo.toml`. A new dependency between our crates must
//! be added here on purpose; one that breaks a rule — the gateway a city deploys linking a
//! simulator, `pos-core` depending on anything of ours, the counter's drivers on the gateway —
//! fails this test.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Our crates, by package name, and the crates of ours each may use in normal (non-dev)
/// dependencies.
const ALLOWED: &[(&str, &[&str])] = &[
    ("pos-core", &[]),
    ("pos-tls", &[]),
    ("pos-build-info", &[]),
    ("pos-config", &["pos-core"]),
    ("iso8583", &["pos-core", "pos-tls"]),
    ("qr-protocol", &["pos-core"]),
    ("reconciler", &["pos-core", "pos-config", "pos-build-info"]),
    ("gateway", &["pos-core", "pos-config", "pos-tls", "iso8583", "qr-protocol", "reconciler", "pos-build-info"]),
    ("device-drivers", &["pos-core", "pos-tls", "iso8583", "pos-build-info"]),
    ("acquirer-sim", &["pos-core", "pos-tls", "iso8583", "reconciler", "pos-build-info"]),
    ("qr-sim", &["pos-core", "pos-tls", "qr-protocol", "reconciler", "pos-build-info"]),
    ("bank-sim", &["pos-core", "pos-config", "reconciler"]),
    (
        "demo",
        &[
            "pos-core",
            "pos-config",
            "pos-tls",
            "iso8583",
            "qr-protocol",
            "reconciler",
            "gateway",
            "device-drivers",
            "acquirer-sim",
            "qr-sim",
            "bank-sim",
            "pos-build-info",
        ],
    ),
];

/// Never, whatever the table above says: the production gateway links no simulator and no
/// counter software; nothing but tests and the demo links the demo.
const FORBIDDEN: &[(&str, &str)] = &[
    ("gateway", "acquirer-sim"),
    ("gateway", "qr-sim"),
    ("gateway", "bank-sim"),
    ("gateway", "device-drivers"),
    ("gateway", "demo"),
    ("device-drivers", "gateway"),
    ("reconciler", "gateway"),
    ("pos-core", "pos-config"),
    ("pos-build-info", "pos-core"),
];

fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root")
}

/// Member package name → the names of the normal dependencies it declares.
fn members() -> BTreeMap<String, BTreeSet<String>> {
    let root: toml::Value =
        toml::from_str(&std::fs::read_to_string(workspace_root().join("Cargo.toml")).expect("root manifest"))
            .expect("root manifest parses");
    let paths = root["workspace"]["members"].as_array().expect("members");
    let mut members = BTreeMap::new();
    for path in paths {
        let path = path.as_str().expect("member path");
        let manifest: toml::Value = toml::from_str(
            &std::fs::read_to_string(workspace_root().join(path).join("Cargo.toml")).expect("member manifest"),
        )
        .expect("member manifest parses");
        let name = manifest["package"]["name"].as_str().expect("package name").to_string();
        let dependencies = manifest
            .get("dependencies")
            .and_then(toml::Value::as_table)
            .map(|table| table.keys().cloned().collect())
            .unwrap_or_default();
        members.insert(name, dependencies);
    }
    members
}

#[test]
fn crates_depend_only_as_the_architecture_allows() {
    let members = members();
    let ours: BTreeSet<&str> = members.keys().map(String::as_str).collect();
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    for (name, dependencies) in &members {
        if name == "e2e" {
            continue; // the end-to-end tests use everything
        }
        let rules = allowed.get(name.as_str()).unwrap_or_else(|| panic!("crate {name} has no rule in ALLOWED"));
        for dependency in dependencies.iter().filter(|d| ours.contains(d.as_str())) {
            assert!(
                rules.contains(&dependency.as_str()),
                "{name} depends on {dependency}, which the layout does not allow"
            );
        }
    }
    for (from, to) in FORBIDDEN {
        let dependencies = members.get(*from).unwrap_or_else(|| panic!("no crate {from}"));
        assert!(!dependencies.contains(*to), "{from} must never depend on {to}");
    }
}

#[test]
fn the_rule_table_names_only_crates_of_the_workspace() {
    let members = members();
    for (name, rules) in ALLOWED {
        assert!(members.contains_key(*name), "ALLOWED names {name}, which is not a member");
        for rule in *rules {
            assert!(members.contains_key(*rule), "ALLOWED lets {name} use {rule}, which is not a member");
        }
    }
}

/// Cargo's integration-test targets of a member: each `tests/*.rs` file and each `tests/*/main.rs`.
fn integration_test_targets(member: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(member.join("tests")) else { return Vec::new() };
    let mut targets = Vec::new();
    for entry in entries {
        let path = entry.expect("a tests/ entry").path();
        let is_target = if path.is_dir() {
            path.join("main.rs").is_file()
        } else {
            path.extension().is_some_and(|extension| extension == "rs")
        };
        if is_target {
            targets.push(path.file_name().expect("a name").to_string_lossy().into_owned());
        }
    }
    targets.sort();
    targets
}

/// Each integration-test binary links the whole crate and its dependencies, which on two cores is
/// most of CI's build: a crate's integration tests are one binary (`tests/it/main.rs` with
/// modules, or one file).
#[test]
fn each_crate_has_at_most_one_integration_test_binary() {
    let root: toml::Value =
        toml::from_str(&std::fs::read_to_string(workspace_root().join("Cargo.toml")).expect("root manifest"))
            .expect("root manifest parses");
    let paths = root["workspace"]["members"].as_array().expect("members");
    assert!(paths.len() > 5, "the workspace's members are read");
    for path in paths {
        let path = path.as_str().expect("member path");
        let targets = integration_test_targets(&workspace_root().join(path));
        assert!(targets.len() <= 1, "{path} builds {} integration-test binaries: {targets:?}", targets.len());
    }
}
