//! Settlement lines partitioned on disk by facility and business date.
//!
//! The settlement files of a year, or of a prefecture's day, do not fit in memory as lines, and
//! reading every file once per facility-day would be quadratic. So the files are read once, line
//! by line, and each line is appended to the partition of its facility and business date (a
//! tab-separated text file under the spool directory). A facility-day then loads only its own
//! partitions: its business date and [`LINE_WINDOW_DAYS`] either side, which covers every line
//! matching can pair with the day's records by time (the widest window is
//! [`crate::matching::KEY_TIME_TOLERANCE_SECONDS`], a quarter of an hour). What this gives up
//! against [`crate::day::reconcile_day`] over all files: a record that matches by RRN alone a line
//! dated more than a day away from it is not found (it becomes a timing difference or missing in
//! settlement, and the far line missing in journal on its own day).
//!
//! A QR line whose terminal code names no register (the provider's own terminal code) belongs
//! to whichever facility's payment its merchant payment id names, which only the journal knows:
//! such lines go to one shared partition per date, read by every facility-day beside its own,
//! and matching keeps those of the facility's payments.
//!
//! Each spooled line carries its sequence number in the input (files in the order given, lines
//! in file order), and a facility-day's lines are sorted by it when loaded, so that matching
//! sees them in the same order as when every file is held in memory.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, ErrorKind, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Days, NaiveDate};
use pos_config::Config;
use pos_core::{Brand, BusinessDate, FacilityId, TerminalId, Yen};

use crate::inputs::identifiers::{PayoutId, Rrn, Stan};
use crate::settlements::{LineKind, SettlementLine, Source};

/// Partitions loaded on each side of a facility-day's business date.
pub const LINE_WINDOW_DAYS: u64 = 1;

/// The most partition files kept open for appending at once; beyond it the least recently
/// opened is closed (and reopened for appending when needed again). Bounds file descriptors
/// and write buffers, whatever the number of facilities and days.
pub const OPEN_PARTITIONS_MAX: usize = 512;

/// The write buffer of one open partition.
pub const PARTITION_BUFFER_BYTES: usize = 8 * 1024;

/// The fields of one spooled line, in order.
const FIELDS: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("spool {path} line {line}: {problem}")]
    Corrupt { path: String, line: u64, problem: String },
    #[error("settlement file name {0:?} holds a tab or a line break, which the spool cannot keep")]
    FileName(String),
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io { path: path.display().to_string(), source }
}

/// Which facilities a settlement line belongs to, as [`crate::matching`] decides it: by merchant
/// id for card and e-money lines, by register for QR lines.
#[derive(Debug, Clone, Default)]
pub struct FacilityLookup {
    by_merchant: HashMap<String, Vec<FacilityId>>,
    by_register: HashMap<String, Vec<FacilityId>>,
}

impl FacilityLookup {
    pub fn new(config: &Config) -> FacilityLookup {
        let mut lookup = FacilityLookup::default();
        for facility in &config.facilities {
            lookup.by_merchant.entry(facility.merchant_id.clone()).or_default().push(facility.id.clone());
            for register in &facility.registers {
                lookup.by_register.entry(register.id.as_str().to_string()).or_default().push(facility.id.clone());
            }
        }
        lookup
    }

    /// The facilities the line belongs to; none for a line of a merchant or register the
    /// configuration does not know (it still counts in its payout's total).
    pub fn facilities_of(&self, line: &SettlementLine) -> &[FacilityId] {
        self.found(line).map_or(&[], Vec::as_slice)
    }

    fn found(&self, line: &SettlementLine) -> Option<&Vec<FacilityId>> {
        let found = match line.source {
            Source::Card | Source::Emoney => self.by_merchant.get(&line.merchant),
            Source::Qr => line.terminal_code.as_ref().and_then(|code| self.by_register.get(code)),
        };
        found
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PartitionKey {
    /// A facility's id, or [`QR_BY_PAYMENT_ID_FOLDER`].
    folder: String,
    date: NaiveDate,
}

/// Appends settlement lines to their partitions.
#[derive(Debug)]
pub struct SpoolWriter {
    dir: PathBuf,
    lookup: FacilityLookup,
    open: HashMap<PartitionKey, BufWriter<File>>,
    /// Open partitions, oldest first, for closing the least recently opened.
    opened_order: std::collections::VecDeque<PartitionKey>,
    sequence: u64,
    lines_spooled: u64,
    lines_unassigned: u64,
}

impl SpoolWriter {
    /// Starts a spool in `dir`, which must be empty or missing.
    pub fn create(dir: &Path, config: &Config) -> Result<SpoolWriter, SpoolError> {
        std::fs::create_dir_all(dir).map_err(io_error(dir))?;
        Ok(SpoolWriter {
            dir: dir.to_path_buf(),
            lookup: FacilityLookup::new(config),
            open: HashMap::new(),
            opened_order: std::collections::VecDeque::new(),
            sequence: 0,
            lines_spooled: 0,
            lines_unassigned: 0,
        })
    }

    /// Appends a line to the partition of each facility it belongs to.
    pub fn append(&mut self, line: &SettlementLine) -> Result<(), SpoolError> {
        if line.file.contains(['\t', '\n', '\r']) {
            return Err(SpoolError::FileName(line.file.clone()));
        }
        self.sequence += 1;
        let facilities = self.lookup.facilities_of(line);
        if facilities.is_empty() && line.source != Source::Qr {
            self.lines_unassigned += 1;
            return Ok(());
        }
        let mut folders: Vec<String> = facilities.iter().map(|f| f.as_str().to_string()).collect();
        if folders.is_empty() {
            // A QR provider's terminal code need not be a register's id: matching then finds the
            // line's facility by its merchant payment id, which only the journal knows. Such
            // lines go to a partition every facility-day of their dates reads.
            folders.push(QR_BY_PAYMENT_ID_FOLDER.to_string());
        }
        let text = encode(self.sequence, line);
        for folder in folders {
            let key = PartitionKey { folder, date: line.business_date().date() };
            let path = partition_path(&self.dir, &key.folder, key.date);
            let writer = self.writer(key)?;
            writer.write_all(text.as_bytes()).map_err(io_error(&path))?;
            self.lines_spooled += 1;
        }
        Ok(())
    }

    fn writer(&mut self, key: PartitionKey) -> Result<&mut BufWriter<File>, SpoolError> {
        if !self.open.contains_key(&key) {
            if self.open.len() >= OPEN_PARTITIONS_MAX {
                if let Some(oldest) = self.opened_order.pop_front() {
                    if let Some(mut writer) = self.open.remove(&oldest) {
                        let path = partition_path(&self.dir, &oldest.folder, oldest.date);
                        writer.flush().map_err(io_error(&path))?;
                    }
                }
            }
            let folder = self.dir.join(&key.folder);
            std::fs::create_dir_all(&folder).map_err(io_error(&folder))?;
            let path = partition_path(&self.dir, &key.folder, key.date);
            let file = OpenOptions::new().create(true).append(true).open(&path).map_err(io_error(&path))?;
            self.open.insert(key.clone(), BufWriter::with_capacity(PARTITION_BUFFER_BYTES, file));
            self.opened_order.push_back(key.clone());
        }
        self.open.get_mut(&key).ok_or_else(|| SpoolError::Corrupt {
            path: self.dir.display().to_string(),
            line: 0,
            problem: "a partition just opened is not open".to_string(),
        })
    }

    /// Lines appended to at least one partition.
    pub fn lines_spooled(&self) -> u64 {
        self.lines_spooled
    }

    /// Lines of no configured facility.
    pub fn lines_unassigned(&self) -> u64 {
        self.lines_unassigned
    }

    /// Flushes every partition; the spool can then be read.
    pub fn finish(mut self) -> Result<Spool, SpoolError> {
        for (key, mut writer) in self.open.drain() {
            let path = partition_path(&self.dir, &key.folder, key.date);
            writer.flush().map_err(io_error(&path))?;
        }
        Ok(Spool { dir: self.dir })
    }
}

/// The folder of QR lines whose terminal code names no register (see [`SpoolWriter::append`]).
/// `@` is not allowed in a facility id, so it cannot be a facility's folder.
const QR_BY_PAYMENT_ID_FOLDER: &str = "@qr";

fn partition_path(dir: &Path, folder: &str, date: NaiveDate) -> PathBuf {
    // Facility ids are ASCII letters, digits, '-' and '_', so they are safe as folder names.
    dir.join(folder).join(format!("{}.tsv", date.format("%Y%m%d")))
}

/// A finished spool, read one facility-day at a time.
#[derive(Debug, Clone)]
pub struct Spool {
    dir: PathBuf,
}

impl Spool {
    /// The facility's lines of the business date and [`LINE_WINDOW_DAYS`] either side, in input
    /// order.
    pub fn load(&self, facility: &FacilityId, date: BusinessDate) -> Result<Vec<SettlementLine>, SpoolError> {
        let first = date.date().checked_sub_days(Days::new(LINE_WINDOW_DAYS)).unwrap_or(date.date());
        let last = date.date().checked_add_days(Days::new(LINE_WINDOW_DAYS)).unwrap_or(date.date());
        let mut lines: Vec<(u64, SettlementLine)> = Vec::new();
        let partitions = first
            .iter_days()
            .take_while(|day| *day <= last)
            .flat_map(|day| [(facility.as_str(), day), (QR_BY_PAYMENT_ID_FOLDER, day)]);
        for (folder, day) in partitions {
            let path = partition_path(&self.dir, folder, day);
            let file = match File::open(&path) {
                Ok(file) => file,
                Err(error) if error.kind() == ErrorKind::NotFound => continue,
                Err(error) => return Err(io_error(&path)(error)),
            };
            let mut reader = BufReader::new(file);
            let mut text = String::new();
            let mut number = 0;
            loop {
                text.clear();
                if reader.read_line(&mut text).map_err(io_error(&path))? == 0 {
                    break;
                }
                number += 1;
                let decoded = decode(text.trim_end_matches('\n')).map_err(|problem| SpoolError::Corrupt {
                    path: path.display().to_string(),
                    line: number,
                    problem,
                })?;
                lines.push(decoded);
            }
        }
        lines.sort_by_key(|(sequence, _)| *sequence);
        Ok(lines.into_iter().map(|(_, line)| line).collect())
    }
}

fn source_code(source: Source) -> &'static str {
    match source {
        Source::Card => "card",
        Source::Qr => "qr",
        Source::Emoney => "emoney",
    }
}

const KINDS: [(LineKind, &str); 7] = [
    (LineKind::Sale, "sale"),
    (LineKind::Refund, "refund"),
    (LineKind::Cancel, "cancel"),
    (LineKind::OutcomeUnknown, "unknown"),
    (LineKind::Chargeback, "chargeback"),
    (LineKind::ChargebackReversal, "chargeback-reversal"),
    (LineKind::Adjustment, "adjustment"),
];

fn kind_code(kind: LineKind) -> &'static str {
    KINDS.iter().find(|(known, _)| *known == kind).map_or("", |(_, code)| code)
}

fn encode(sequence: u64, line: &SettlementLine) -> String {
    let optional = |value: Option<&str>| value.unwrap_or("").to_string();
    let fields = [
        sequence.to_string(),
        source_code(line.source).to_string(),
        kind_code(line.kind).to_string(),
        line.brand.code().to_string(),
        line.file.clone(),
        line.line.to_string(),
        line.merchant.clone(),
        optional(line.terminal_id.as_ref().map(TerminalId::as_str)),
        optional(line.terminal_code.as_deref()),
        optional(line.stan.as_ref().map(Stan::as_str)),
        optional(line.rrn.as_ref().map(Rrn::as_str)),
        optional(line.original_rrn.as_ref().map(Rrn::as_str)),
        optional(line.merchant_payment_id.as_deref()),
        line.time.to_rfc3339(),
        line.amount_gross.get().to_string(),
        line.amount_fee.get().to_string(),
        line.amount_net.get().to_string(),
        line.settlement_date.to_string(),
        optional(line.payout_id.as_ref().map(PayoutId::as_str)),
        line.payout_date.to_string(),
    ];
    let mut text = fields.join("\t");
    text.push('\n');
    text
}

fn decode(text: &str) -> Result<(u64, SettlementLine), String> {
    let fields: Vec<&str> = text.split('\t').collect();
    if fields.len() != FIELDS {
        return Err(format!("{} fields, expected {FIELDS}", fields.len()));
    }
    let bad = |name: &str, value: &str| format!("{name} {value:?} does not parse");
    let number = |index: usize, name: &str| fields[index].parse::<i64>().map_err(|_| bad(name, fields[index]));
    let yen = |index: usize, name: &str| Yen::new(number(index, name)?).map_err(|_| bad(name, fields[index]));
    let optional = |index: usize| Some(fields[index]).filter(|value| !value.is_empty());
    let date = |index: usize, name: &str| fields[index].parse::<NaiveDate>().map_err(|_| bad(name, fields[index]));
    let source = match fields[1] {
        "card" => Source::Card,
        "qr" => Source::Qr,
        "emoney" => Source::Emoney,
        other => return Err(bad("source", other)),
    };
    let kind =
        KINDS.iter().find(|(_, code)| *code == fields[2]).map(|(kind, _)| *kind).ok_or(bad("kind", fields[2]))?;
    let line = SettlementLine {
        file: fields[4].to_string(),
        line: fields[5].parse().map_err(|_| bad("line", fields[5]))?,
        source,
        kind,
        brand: fields[3].parse::<Brand>().map_err(|_| bad("brand", fields[3]))?,
        merchant: fields[6].to_string(),
        terminal_id: optional(7).map(TerminalId::parse).transpose().map_err(|_| bad("terminal id", fields[7]))?,
        terminal_code: optional(8).map(str::to_string),
        stan: optional(9).map(Stan::parse).transpose().map_err(|_| bad("stan", fields[9]))?,
        rrn: optional(10).map(Rrn::parse).transpose().map_err(|_| bad("rrn", fields[10]))?,
        original_rrn: optional(11).map(Rrn::parse).transpose().map_err(|_| bad("original rrn", fields[11]))?,
        merchant_payment_id: optional(12).map(str::to_string),
        time: DateTime::parse_from_rfc3339(fields[13]).map_err(|_| bad("time", fields[13]))?,
        amount_gross: yen(14, "gross")?,
        amount_fee: yen(15, "fee")?,
        amount_net: yen(16, "net")?,
        settlement_date: date(17, "settlement date")?,
        payout_id: optional(18).map(PayoutId::parse).transpose().map_err(|_| bad("payout id", fields[18]))?,
        payout_date: date(19, "payout date")?,
    };
    let sequence = fields[0].parse().map_err(|_| bad("sequence", fields[0]))?;
    Ok((sequence, line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_survives_the_spool() {
        let line = SettlementLine {
            file: "card-settlement-20261124.csv".to_string(),
            line: 7,
            source: Source::Card,
            kind: LineKind::Refund,
            brand: Brand::Visa,
            merchant: "000000000010001".to_string(),
            terminal_id: Some(TerminalId::parse("T0010001").unwrap()),
            terminal_code: None,
            stan: Some(Stan::parse("000131").unwrap()),
            rrn: Some(Rrn::parse("632810000131").unwrap()),
            original_rrn: Some(Rrn::parse("632810000123").unwrap()),
            merchant_payment_id: None,
            time: DateTime::parse_from_rfc3339("2026-11-24T15:40:11+09:00").unwrap(),
            amount_gross: Yen::new(-1500).unwrap(),
            amount_fee: Yen::new(-48).unwrap(),
            amount_net: Yen::new(-1452).unwrap(),
            settlement_date: "2026-11-24".parse().unwrap(),
            payout_id: Some(PayoutId::parse("P20261126-001").unwrap()),
            payout_date: "2026-11-26".parse().unwrap(),
        };
        let text = encode(42, &line);
        assert_eq!(decode(text.trim_end_matches('\n')).unwrap(), (42, line));
        assert!(decode("1\tcard").unwrap_err().contains("2 fields"));
    }

    fn qr_line(line: u64, terminal_code: &str, time: &str) -> SettlementLine {
        SettlementLine {
            file: "qr-settlement-20261208.csv".to_string(),
            line,
            source: Source::Qr,
            kind: LineKind::Sale,
            brand: Brand::PayPay,
            merchant: "M0001".to_string(),
            terminal_id: None,
            terminal_code: Some(terminal_code.to_string()),
            stan: None,
            rrn: None,
            original_rrn: None,
            merchant_payment_id: Some(format!("pay_{line}")),
            time: DateTime::parse_from_rfc3339(time).unwrap(),
            amount_gross: Yen::new(300).unwrap(),
            amount_fee: Yen::new(5).unwrap(),
            amount_net: Yen::new(295).unwrap(),
            settlement_date: "2026-12-08".parse().unwrap(),
            payout_id: None,
            payout_date: "2026-12-14".parse().unwrap(),
        }
    }

    /// The provider's own terminal code names no register: the line is read by every
    /// facility-day of its dates (matching keeps it where its merchant payment id belongs), and a
    /// register's code still goes to that register's facility alone.
    #[test]
    fn a_qr_line_of_no_register_reaches_every_facility_day_of_its_date() {
        let config_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/examples/city.toml");
        let config = pos_config::load(&config_path).expect("the example configuration");
        let first = config.facilities[0].clone();
        let second = config.facilities[1].clone();
        let dir = tempfile::tempdir().unwrap();
        let mut writer = SpoolWriter::create(&dir.path().join("spool"), &config).unwrap();
        let provider_terminal = qr_line(1, "R0010001", "2026-12-08T10:05:26+09:00");
        let at_register = qr_line(2, first.registers[0].id.as_str(), "2026-12-08T11:00:00+09:00");
        let week_later = qr_line(3, "R0010001", "2026-12-15T10:00:00+09:00");
        for line in [&provider_terminal, &at_register, &week_later] {
            writer.append(line).unwrap();
        }
        assert_eq!(writer.lines_unassigned(), 0);
        let spool = writer.finish().unwrap();
        let day = BusinessDate::new("2026-12-08".parse().unwrap());
        assert_eq!(spool.load(&first.id, day).unwrap(), vec![provider_terminal.clone(), at_register]);
        assert_eq!(spool.load(&second.id, day).unwrap(), vec![provider_terminal]);
    }
}
