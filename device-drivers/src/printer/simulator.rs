//! A simulated receipt printer with its cash drawer: the device's side of the line (a pty in tests
//! and the demo), for counterd to print on as it prints on a real one.
//!
//! It reads the ESC/POS bytes as they arrive (commands may be split across reads) with
//! [`escpos::parse_first`], answers each real-time status query `DLE EOT n` at once from its
//! [`PrinterPanel`] (paper present, near its end or out; cover open or closed; drawer open or
//! closed) as a real printer does, and keeps what it printed: the text of each document up to its
//! cut, decoded from Shift_JIS, and every drawer-kick pulse (after which the drawer is open until
//! the clerk closes it, [`PrinterPanel::close_drawer`]). Text sent while it cannot print (paper
//! out, cover open) is lost, as on paper, and counted. Bytes that are not commands of our subset
//! are skipped one at a time and counted.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

use super::escpos::{self, Command, ParseError};
use super::status::{
    FIXED_BITS_VALUE, OFFLINE_COVER_OPEN, OFFLINE_PAPER_END_STOP, PAPER_END, PAPER_NEAR_END, PRINTER_DRAWER_PIN_HIGH,
    PRINTER_OFFLINE, QUERY_ERROR_CAUSE, QUERY_OFFLINE_CAUSE, QUERY_PAPER, QUERY_PRINTER,
};
use super::text;

/// How many bytes one read asks for.
pub const READ_CHUNK_BYTES: usize = 1_024;
/// The longest command or unfinished line kept while waiting for the rest of it; a line that
/// grows past this without a line feed is garbage, and is dropped.
pub const PENDING_BYTES_MAX: usize = 64 * 1_024;
/// How many printed documents are kept (the oldest go first).
pub const DOCUMENTS_KEPT_MAX: usize = 1_000;

/// The paper roll.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Paper {
    #[default]
    Present,
    /// Printing goes on; the near-end sensor is set.
    NearEnd,
    Out,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct PanelState {
    paper: Paper,
    cover_open: bool,
    drawer_open: bool,
}

impl PanelState {
    fn can_print(&self) -> bool {
        self.paper != Paper::Out && !self.cover_open
    }

    /// The answer to `DLE EOT query`, as a printer with this state gives it; `None` for a query
    /// a printer does not know (it stays silent).
    fn answer(&self, query: u8) -> Option<u8> {
        let set = |flag: bool, bits: u8| if flag { bits } else { 0 };
        let offline = !self.can_print();
        let paper_end = self.paper == Paper::Out;
        let bits = match query {
            QUERY_PRINTER => set(self.drawer_open, PRINTER_DRAWER_PIN_HIGH) | set(offline, PRINTER_OFFLINE),
            QUERY_OFFLINE_CAUSE => set(self.cover_open, OFFLINE_COVER_OPEN) | set(paper_end, OFFLINE_PAPER_END_STOP),
            QUERY_ERROR_CAUSE => 0,
            QUERY_PAPER => set(self.paper == Paper::NearEnd, PAPER_NEAR_END) | set(paper_end, PAPER_END),
            _ => return None,
        };
        Some(FIXED_BITS_VALUE | bits)
    }
}

/// The printer's front: what a clerk does to it (change the roll, open the cover, close the
/// drawer). Cheap to clone; usable from any task.
#[derive(Debug, Clone, Default)]
pub struct PrinterPanel(Arc<Mutex<PanelState>>);

impl PrinterPanel {
    pub fn set_paper(&self, paper: Paper) {
        self.lock().paper = paper;
    }

    pub fn set_cover_open(&self, open: bool) {
        self.lock().cover_open = open;
    }

    pub fn close_drawer(&self) {
        self.lock().drawer_open = false;
    }

    pub fn drawer_open(&self) -> bool {
        self.lock().drawer_open
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PanelState> {
        // A poisoned lock only means a task panicked while holding it; the state is whole.
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// One drawer-kick pulse as received: the connector pin (0: pin 2, 1: pin 5) and the on and off
/// times in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrawerKick {
    pub pin: u8,
    pub on_ms: u16,
    pub off_ms: u16,
}

/// Everything the printer did so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrinterOutput {
    /// Each cut document's text: one `\n` per line feed, styles dropped.
    pub documents: Vec<String>,
    pub drawer_kicks: Vec<DrawerKick>,
    /// Status queries answered.
    pub status_queries: usize,
    /// Printable bytes lost because the printer could not print when they came.
    pub bytes_lost: usize,
    /// Bytes that were not commands of our subset.
    pub bytes_skipped: usize,
}

/// The printer's side of the line.
pub struct PrinterSimulator {
    panel: PrinterPanel,
    output: watch::Sender<PrinterOutput>,
}

impl Default for PrinterSimulator {
    fn default() -> PrinterSimulator {
        PrinterSimulator::new()
    }
}

impl PrinterSimulator {
    pub fn new() -> PrinterSimulator {
        PrinterSimulator { panel: PrinterPanel::default(), output: watch::channel(PrinterOutput::default()).0 }
    }

    pub fn panel(&self) -> PrinterPanel {
        self.panel.clone()
    }

    /// What it printed so far, updated as it prints.
    pub fn output(&self) -> watch::Receiver<PrinterOutput> {
        self.output.subscribe()
    }

    /// Serves the line until it closes (end of file or `EIO`, as a pty whose last slave
    /// descriptor closed gives) or `shutdown` resolves.
    pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        mut line: S,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> std::io::Result<()> {
        tokio::pin!(shutdown);
        let mut pending: Vec<u8> = Vec::new();
        let mut page: Vec<u8> = Vec::new();
        let mut buffer = vec![0_u8; READ_CHUNK_BYTES];
        loop {
            let read = tokio::select! {
                () = &mut shutdown => return Ok(()),
                read = line.read(&mut buffer) => read,
            };
            let count = match read {
                Ok(0) => return Ok(()),
                Ok(count) => count,
                Err(error) if error.raw_os_error() == Some(nix::libc::EIO) => return Ok(()),
                Err(error) => return Err(error),
            };
            pending.extend_from_slice(&buffer[..count]);
            let mut answers = Vec::new();
            self.consume(&mut pending, &mut page, &mut answers);
            if !answers.is_empty() {
                line.write_all(&answers).await?;
                line.flush().await?;
            }
        }
    }

    /// Runs every complete command in `pending`, leaving an unfinished one there.
    fn consume(&self, pending: &mut Vec<u8>, page: &mut Vec<u8>, answers: &mut Vec<u8>) {
        let mut offset = 0;
        while offset < pending.len() {
            match escpos::parse_first(&pending[offset..]) {
                Ok(Some((command, length))) => {
                    self.run(command, page, answers);
                    offset += length;
                }
                Ok(None) | Err(ParseError::Truncated { .. }) => break,
                Err(_) => {
                    self.output.send_modify(|output| output.bytes_skipped += 1);
                    offset += 1;
                }
            }
        }
        pending.drain(..offset);
        if pending.len() > PENDING_BYTES_MAX {
            let dropped = pending.len();
            pending.clear();
            self.output.send_modify(|output| output.bytes_skipped += dropped);
        }
        if page.len() > PENDING_BYTES_MAX {
            page.clear();
        }
    }

    fn run(&self, command: Command, page: &mut Vec<u8>, answers: &mut Vec<u8>) {
        let state = *self.panel.lock();
        match command {
            Command::StatusQuery(query) => {
                if let Some(answer) = state.answer(query) {
                    answers.push(answer);
                }
                self.output.send_modify(|output| output.status_queries += 1);
            }
            Command::Text(bytes) if state.can_print() => page.extend_from_slice(&bytes),
            Command::LineFeed if state.can_print() => page.push(b'\n'),
            Command::FeedLines(lines) if state.can_print() => page.extend(std::iter::repeat_n(b'\n', lines.into())),
            Command::Text(bytes) => self.output.send_modify(|output| output.bytes_lost += bytes.len()),
            Command::LineFeed | Command::FeedLines(_) => self.output.send_modify(|output| output.bytes_lost += 1),
            Command::Cut { .. } => {
                if !page.is_empty() {
                    let document = text::decode(page);
                    page.clear();
                    self.output.send_modify(|output| {
                        if output.documents.len() == DOCUMENTS_KEPT_MAX {
                            output.documents.remove(0);
                        }
                        output.documents.push(document);
                    });
                }
            }
            Command::DrawerKick { pin, on_units, off_units } => {
                self.panel.lock().drawer_open = true;
                let kick = DrawerKick { pin, on_ms: u16::from(on_units) * 2, off_ms: u16::from(off_units) * 2 };
                self.output.send_modify(|output| output.drawer_kicks.push(kick));
            }
            // Set-up and style commands change how text looks, not what it says.
            Command::Initialize
            | Command::KanjiModeOn
            | Command::KanjiCodeSystem(_)
            | Command::CodeTable(_)
            | Command::InternationalSet(_)
            | Command::Bold(_)
            | Command::Size(_)
            | Command::KanjiSize(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::printer::status::{DrawerOpenLevel, PrinterStatus, QUERIES};

    fn status_of(state: PanelState) -> PrinterStatus {
        let answers = QUERIES.map(|query| state.answer(query).expect("known query"));
        PrinterStatus::parse(answers, DrawerOpenLevel::High).expect("valid answers")
    }

    #[test]
    fn status_answers_read_back_as_the_panel_state() {
        assert_eq!(status_of(PanelState::default()), PrinterStatus::default());
        let out = status_of(PanelState { paper: Paper::Out, ..PanelState::default() });
        assert!(out.paper_end && out.offline && !out.can_print());
        let near = status_of(PanelState { paper: Paper::NearEnd, ..PanelState::default() });
        assert!(near.paper_near_end && near.can_print());
        let cover = status_of(PanelState { cover_open: true, drawer_open: true, ..PanelState::default() });
        assert!(cover.cover_open && cover.drawer_open && !cover.paper_end);
        assert_eq!(PanelState::default().answer(9), None);
    }

    #[test]
    fn split_commands_wait_for_their_rest_and_text_is_lost_without_paper() {
        let simulator = PrinterSimulator::new();
        let (mut pending, mut page, mut answers) = (Vec::new(), Vec::new(), Vec::new());
        let mut bytes = text::encode("領収書");
        bytes.extend_from_slice(&[escpos::LF, escpos::DLE, escpos::EOT]);
        pending.extend_from_slice(&bytes);
        simulator.consume(&mut pending, &mut page, &mut answers);
        assert_eq!(pending, [escpos::DLE, escpos::EOT], "the query waits for its last byte");
        pending.push(QUERY_PAPER);
        pending.extend_from_slice(&escpos::cut());
        simulator.consume(&mut pending, &mut page, &mut answers);
        assert_eq!(answers, [FIXED_BITS_VALUE]);
        assert_eq!(simulator.output().borrow().documents, ["領収書\n"]);

        simulator.panel().set_paper(Paper::Out);
        pending.extend_from_slice(b"lost\n");
        simulator.consume(&mut pending, &mut page, &mut answers);
        let output = simulator.output().borrow().clone();
        assert_eq!((output.bytes_lost, output.documents.len()), (5, 1));
    }
}
