//! counterd's local command journal: the state file that makes "never run a command twice" true
//! across crashes.
//!
//! Before a command runs, `started` is written for its id; after it ends, its result. Each write
//! replaces the whole file durably: the new contents go to `<file>.tmp`, which is synced, renamed
//! over the file, and the folder is synced, so after a crash the file holds either the old or the
//! new contents, never a mix. On start-up an entry with `started` and no result is a command
//! counterd died in: it is answered [`CommandState::Unknown`] and never run again.
//!
//! The file is JSON, small (one entry per command; answered entries beyond
//! [`ANSWERED_KEPT_MAX`] are dropped oldest first, unanswered ones never), and holds no card data
//! beyond what a [`CommandResult`] carries (a masked card number).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use pos_core::api::{CommandKind, CommandResult};
use serde::{Deserialize, Serialize};

/// How many answered commands the journal keeps; the gateway never redelivers an answered
/// command, so these serve only a repost after a crash between journaling and posting.
pub const ANSWERED_KEPT_MAX: usize = 1_000;
/// The file layout's version.
pub const JOURNAL_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot read the state file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    /// The file exists but is not a journal: counterd refuses to start rather than forget which
    /// commands it ran.
    #[error("the state file {path} is not a counterd journal: {source}")]
    Corrupt { path: String, source: serde_json::Error },
    #[error("the state file {path} has version {version}, this counterd reads {JOURNAL_VERSION}")]
    Version { path: String, version: u32 },
    #[error("cannot write the state file {path}: {source}")]
    Write { path: String, source: std::io::Error },
    #[error("cannot encode the state file: {0}")]
    Encode(serde_json::Error),
    #[error("command {id} is not in the journal")]
    NotStarted { id: String },
}

/// One command as counterd saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Order of arrival, for pruning.
    pub sequence: u64,
    pub command: CommandKind,
    pub started_at: DateTime<Utc>,
    /// `None`: started, and counterd has not seen it end.
    pub result: Option<CommandResult>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct JournalFile {
    version: u32,
    next_sequence: u64,
    commands: BTreeMap<String, JournalEntry>,
}

/// The state file, loaded, with durable writes.
#[derive(Debug)]
pub struct CommandJournal {
    path: PathBuf,
    file: JournalFile,
}

impl CommandJournal {
    /// Reads the journal at `path`; a missing file is an empty journal.
    pub fn open(path: &Path) -> Result<CommandJournal, JournalError> {
        let name = path.display().to_string();
        let file = match fs::read(path) {
            Ok(bytes) => {
                let file: JournalFile = serde_json::from_slice(&bytes)
                    .map_err(|source| JournalError::Corrupt { path: name.clone(), source })?;
                if file.version != JOURNAL_VERSION {
                    return Err(JournalError::Version { path: name, version: file.version });
                }
                file
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                JournalFile { version: JOURNAL_VERSION, ..JournalFile::default() }
            }
            Err(source) => return Err(JournalError::Read { path: name, source }),
        };
        Ok(CommandJournal { path: path.to_path_buf(), file })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn get(&self, id: &str) -> Option<&JournalEntry> {
        self.file.commands.get(id)
    }

    /// Every entry, by command id.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &JournalEntry)> {
        self.file.commands.iter().map(|(id, entry)| (id.as_str(), entry))
    }

    /// Records, durably, that command `id` is about to run. Call it before touching a device.
    pub fn record_started(&mut self, id: &str, command: &CommandKind, now: DateTime<Utc>) -> Result<(), JournalError> {
        let sequence = self.file.next_sequence;
        let mut next = self.file.clone();
        next.next_sequence = sequence.saturating_add(1);
        next.commands
            .insert(id.to_string(), JournalEntry { sequence, command: command.clone(), started_at: now, result: None });
        self.replace(next)
    }

    /// Records, durably, how command `id` ended.
    pub fn record_result(&mut self, id: &str, result: &CommandResult) -> Result<(), JournalError> {
        let mut next = self.file.clone();
        let entry = next.commands.get_mut(id).ok_or_else(|| JournalError::NotStarted { id: id.to_string() })?;
        entry.result = Some(result.clone());
        prune(&mut next);
        self.replace(next)
    }

    fn replace(&mut self, next: JournalFile) -> Result<(), JournalError> {
        let bytes = serde_json::to_vec_pretty(&next).map_err(JournalError::Encode)?;
        write_durably(&self.path, &bytes)
            .map_err(|source| JournalError::Write { path: self.path.display().to_string(), source })?;
        self.file = next;
        Ok(())
    }
}

/// Drops the oldest answered entries beyond [`ANSWERED_KEPT_MAX`].
fn prune(file: &mut JournalFile) {
    let mut answered: Vec<(u64, String)> = file
        .commands
        .iter()
        .filter(|(_, entry)| entry.result.is_some())
        .map(|(id, entry)| (entry.sequence, id.clone()))
        .collect();
    if answered.len() <= ANSWERED_KEPT_MAX {
        return;
    }
    answered.sort();
    let excess = answered.len().saturating_sub(ANSWERED_KEPT_MAX);
    for (_, id) in answered.into_iter().take(excess) {
        file.commands.remove(&id);
    }
}

/// Write to a temporary file, sync it, rename it over `path`, sync the folder.
fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    {
        let mut file = fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    fs::rename(&temporary, path)?;
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    fs::File::open(folder)?.sync_all()
}

#[cfg(test)]
mod tests {
    use pos_core::api::CommandState;
    use pos_core::Yen;

    use super::*;

    fn charge() -> CommandKind {
        CommandKind::Charge { payment_id: "pay_1".to_string(), amount: Yen::new(450).expect("yen") }
    }

    #[test]
    fn started_and_result_survive_a_reopen() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("state.json");
        let mut journal = CommandJournal::open(&path).expect("empty journal");
        journal.record_started("cmd_1", &charge(), Utc::now()).expect("started");
        let reopened = CommandJournal::open(&path).expect("reopen");
        assert_eq!(reopened.get("cmd_1").map(|e| e.result.is_none()), Some(true));
        let result =
            CommandResult { state: CommandState::Failed, detail: "no".to_string(), terminal: None, output: None };
        journal.record_result("cmd_1", &result).expect("result");
        let reopened = CommandJournal::open(&path).expect("reopen");
        assert_eq!(reopened.get("cmd_1").and_then(|e| e.result.clone()), Some(result));
        assert!(!dir.path().join("state.json.tmp").exists());
    }

    #[test]
    fn a_corrupt_file_is_refused_not_forgotten() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("state.json");
        fs::write(&path, b"{ not json").expect("write");
        assert!(matches!(CommandJournal::open(&path), Err(JournalError::Corrupt { .. })));
    }

    #[test]
    fn a_result_for_an_unknown_command_is_an_error() {
        let dir = tempfile::tempdir().expect("dir");
        let mut journal = CommandJournal::open(&dir.path().join("state.json")).expect("journal");
        let result = CommandResult { state: CommandState::Done, detail: String::new(), terminal: None, output: None };
        assert!(matches!(journal.record_result("nope", &result), Err(JournalError::NotStarted { .. })));
    }

    #[test]
    fn pruning_keeps_unanswered_entries() {
        let mut file = JournalFile { version: JOURNAL_VERSION, ..JournalFile::default() };
        let done = CommandResult { state: CommandState::Done, detail: String::new(), terminal: None, output: None };
        for n in 0..(ANSWERED_KEPT_MAX as u64 + 5) {
            file.commands.insert(
                format!("c{n}"),
                JournalEntry {
                    sequence: n,
                    command: CommandKind::OpenDrawer,
                    started_at: Utc::now(),
                    result: Some(done.clone()),
                },
            );
        }
        file.commands.insert(
            "open".to_string(),
            JournalEntry { sequence: 0, command: charge(), started_at: Utc::now(), result: None },
        );
        prune(&mut file);
        assert_eq!(file.commands.len(), ANSWERED_KEPT_MAX + 1);
        assert!(file.commands.contains_key("open"));
        assert!(!file.commands.contains_key("c0"));
    }
}
