//! Rolling upgrades: an older node keeps starting and serving beside the migrations a newer node
//! has applied, and the previous release's schema is upgraded in place by this one. Both rest on
//! the rules for a migration (deploy/README.md, "Upgrades"), which `every_migration_is_additive`
//! checks on every migration file.

use std::path::{Path, PathBuf};

use pos_config::Backend;
use serde_json::{json, Value};
use sqlx::migrate::{MigrateError, Migrator};

use crate::support::*;

/// The newer release's migration: a column and a table, as the rules allow.
const FUTURE_MIGRATION: &str = "-- A later release's additive change.\n\
    ALTER TABLE payments ADD COLUMN future_note TEXT;\n\
    CREATE TABLE future_things (id TEXT PRIMARY KEY, created_at TEXT NOT NULL);\n";
const FUTURE_VERSION: i64 = 99_990_001;

on_both_backends!(
    an_older_node_starts_and_serves_beside_a_newer_nodes_migrations,
    the_previous_releases_schema_is_upgraded_in_place_and_it_can_still_start,
);

fn migrations_dir(backend: Backend) -> PathBuf {
    let name = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(name)
}

fn migration_files(backend: Backend) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(migrations_dir(backend))
        .expect("migrations")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    files
}

/// A migrator over `files` (and `extra` named file contents), as another release of the gateway
/// would have it; `tolerant` as this release builds its own.
async fn migrator(files: &[PathBuf], extra: &[(&str, &str)], tolerant: bool) -> (Migrator, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("dir");
    for file in files {
        std::fs::copy(file, dir.path().join(file.file_name().expect("name"))).expect("copy migration");
    }
    for (name, text) in extra {
        std::fs::write(dir.path().join(name), text).expect("write migration");
    }
    let mut migrator = Migrator::new(dir.path()).await.expect("migrations resolve");
    migrator.set_ignore_missing(tolerant);
    (migrator, dir)
}

async fn pool(database: &TestDatabase) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    let url = match database.backend {
        Backend::Sqlite => format!("{}?mode=rwc", database.url),
        Backend::Postgres => database.url.clone(),
    };
    sqlx::AnyPool::connect(&url).await.expect("connect")
}

async fn cash_sale_works(app: &TestApp) {
    let _: Value = app
        .post("/v1/shifts", &token("clerk-r0101"), &key(), &json!({ "register_id": "R0101", "opening_float": 0 }))
        .await
        .ok();
    let sale: Value = app
        .post(
            "/v1/sales",
            &token("clerk-r0101"),
            &key(),
            &json!({ "register_id": "R0101", "lines": [{ "fee_item": "JUMINHYO", "quantity": 1 }] }),
        )
        .await
        .ok();
    let paid: Value = app
        .post(
            &format!("/v1/sales/{}/payments", sale["id"].as_str().expect("id")),
            &token("clerk-r0101"),
            &key(),
            &json!({ "method": "cash", "tendered": 1000 }),
        )
        .await
        .ok();
    assert_eq!(paid["payment"]["state"], "completed", "{paid}");
}

async fn an_older_node_starts_and_serves_beside_a_newer_nodes_migrations(backend: Backend) {
    let database = TestDatabase::new(backend).await;
    let files = migration_files(backend);
    // The newer node migrates first: everything this release has, and one more.
    let (newer, _dir) = migrator(&files, &[(&format!("{FUTURE_VERSION}_future.sql"), FUTURE_MIGRATION)], false).await;
    let pool = pool(&database).await;
    newer.run(&pool).await.expect("the newer node migrates");

    // sqlx's default check would refuse to start this (older) node ...
    let (mut strict, _strict_dir) = migrator(&files, &[], false).await;
    // sqlx leaves its PostgreSQL advisory lock held when the check fails: check without it.
    strict.set_locking(false);
    assert!(matches!(strict.run(&pool).await, Err(MigrateError::VersionMissing(FUTURE_VERSION))));
    pool.close().await;

    // ... the gateway's tolerates it, serves, and says so in its readiness detail.
    let app = spawn_app_on(&database.url).await;
    cash_sale_works(&app).await;
    let ready: Value = app.get("/readyz", &token("prometheus")).await.ok();
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["journal"]["schema"]["newer"], json!([FUTURE_VERSION]), "{ready}");
    assert_eq!(ready["journal"]["schema"]["missing"], json!([]), "{ready}");
    let verification: Value = app.get("/v1/audit/verify", &token("admin")).await.ok();
    assert_eq!(verification["problem"], Value::Null);
    app.stop().await;
}

async fn the_previous_releases_schema_is_upgraded_in_place_and_it_can_still_start(backend: Backend) {
    let database = TestDatabase::new(backend).await;
    let files = migration_files(backend);
    let (previous_files, newest) = files.split_at(files.len() - 1);
    let pool = pool(&database).await;
    // The previous release's schema, with a sale it recorded.
    let (previous, _dir) = migrator(previous_files, &[], false).await;
    previous.run(&pool).await.expect("the previous release migrates");

    // This release starts on it, applies its newest migration, and serves.
    let app = spawn_app_on(&database.url).await;
    cash_sale_works(&app).await;
    let ready: Value = app.get("/readyz", &token("prometheus")).await.ok();
    assert_eq!(ready["journal"]["schema"]["missing"], json!([]), "{ready}");
    let newest_version: i64 = newest[0]
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.split('_').next())
        .and_then(|v| v.parse().ok())
        .expect("version");
    assert_eq!(ready["journal"]["schema"]["applied_latest"], json!(newest_version));
    app.stop().await;

    // The previous release, built as this one is (tolerant), still starts on the upgraded schema:
    // the rollback of a binary needs no way back for the schema.
    let (previous_tolerant, _dir) = migrator(previous_files, &[], true).await;
    previous_tolerant.run(&pool).await.expect("the previous release starts after the upgrade");
    pool.close().await;
}

/// The rules for a migration, checked on every file: it adds (tables, columns, indexes, triggers,
/// functions) and never removes, renames, retypes or rewrites; a column it adds to an existing
/// table is nullable or has a default, so an older node's INSERTs, which do not name it, still
/// work.
#[test]
fn every_migration_is_additive() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        for file in migration_files(backend) {
            let text = std::fs::read_to_string(&file).expect("read");
            let code: String = text
                .lines()
                .map(|line| line.split("--").next().unwrap_or_default())
                .collect::<Vec<_>>()
                .join("\n")
                .to_ascii_uppercase();
            for statement in code.split(';') {
                let words: Vec<&str> = statement
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .filter(|w| !w.is_empty())
                    .collect();
                let place = || format!("{}: {}", file.display(), statement.trim());
                // Statements that remove or rewrite what exists.
                if let Some(first) = words.first() {
                    assert!(!["DROP", "UPDATE", "DELETE", "TRUNCATE"].contains(first), "not additive: {}", place());
                }
                // Within a statement: removing, renaming or retyping a column or table.
                for pair in words.windows(2) {
                    assert!(
                        !matches!(
                            pair,
                            ["DROP", "COLUMN" | "TABLE" | "INDEX" | "CONSTRAINT"] | ["ALTER", "COLUMN"] | ["RENAME", _]
                        ),
                        "not additive: {}",
                        place()
                    );
                }
                if words.windows(2).any(|w| w == ["ADD", "COLUMN"]) && words.windows(2).any(|w| w == ["NOT", "NULL"]) {
                    assert!(words.contains(&"DEFAULT"), "a NOT NULL column needs a DEFAULT: {}", place());
                }
            }
        }
    }
    // Both backends have the same migrations, by number and name.
    let names =
        |backend| migration_files(backend).iter().map(|f| f.file_name().unwrap().to_owned()).collect::<Vec<_>>();
    assert_eq!(names(Backend::Sqlite), names(Backend::Postgres));
}
