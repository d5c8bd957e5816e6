//! Two ends of a serial ZVT link over a simulated line, in virtual time, seeded: frames cross,
//! bytes arrive late and in pieces, CRCs go bad and ACKs get lost — and every APDU one end sends
//! is taken by the other exactly once, in order, as long as each frame needs no more than the
//! three tries the link allows.
//!
//! The traffic is ZVT's shape, both ways at once: each end sends its own messages one at a time
//! (the next only after the other end answered `80 00 00`), answers each message of the other end
//! with `80 00 00`, and the messages come from a small set, so identical messages follow each
//! other (the terminal's repeated `04 FF`) and every answer is identical. That is the condition
//! under which the link can tell a legitimate repeat from a copy sent after a lost `ACK`
//! (`device_drivers::zvt::serial::link`).
//!
//! A failure prints its plan; `LINK_TRACE=1` prints every write and every APDU taken, in virtual
//! time, to follow it.

use std::collections::{BTreeMap, VecDeque};

use device_drivers::zvt::serial::link::{LinkEnd, LinkOutput, LinkRole, ACK_TIMEOUT_MS, SEND_TRIES_MAX};
use device_drivers::zvt::serial::{transmit_ms, ACK, DLE, NAK, STX};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The answer to every message.
const ANSWER: [u8; 3] = [0x80, 0x00, 0x00];
/// Messages an end sends: repeated intermediate statuses, print lines, an abort.
const MESSAGES: [&[u8]; 4] = [
    &[0x04, 0xFF, 0x01, 0x0A],
    &[0x06, 0xD1, 0x03, 0x00, 0x4F, 0x4B],
    &[0x06, 0xB0, 0x00],
    // DLE in the data, so stuffing is on the line too.
    &[0x06, 0xD1, 0x03, 0x00, 0x10, 0x10],
];
/// A fault is injected at most once in this much virtual time, so no frame meets more than one:
/// with one try spent on the fault and at most one on a collision, three tries always suffice.
const FAULT_SPACING_MS: u64 = (SEND_TRIES_MAX as u64 + 1) * ACK_TIMEOUT_MS;
/// Virtual time after which a run that has not finished has failed.
const RUN_MS_MAX: u64 = 30 * 60 * 1_000;

#[derive(Debug, Clone)]
struct Plan {
    seed: u64,
    messages: [usize; 2],
    /// Per mille of frames corrupted and of ACK/NAK bytes dropped, when the spacing allows.
    fault_per_mille: u32,
    /// The longest extra delay of a piece of bytes on the line.
    delay_ms_max: u64,
    /// The longest an application takes before it answers or sends its next message.
    think_ms_max: u64,
}

fn plans() -> impl Strategy<Value = Plan> {
    (any::<u64>(), 1usize..25, 1usize..25, 0u32..600, 0u64..40, 0u64..400).prop_map(
        |(seed, first, second, fault_per_mille, delay_ms_max, think_ms_max)| Plan {
            seed,
            messages: [first, second],
            fault_per_mille,
            delay_ms_max,
            think_ms_max,
        },
    )
}

/// One end: its link state machine and the application on top.
struct End {
    link: LinkEnd,
    /// Its own messages still to send.
    script: VecDeque<Vec<u8>>,
    /// APDUs queued for the link, each with the time it may go (the application's think time).
    outbox: VecDeque<(u64, Vec<u8>)>,
    /// Waiting for the other end's answer to its last message.
    awaiting_answer: bool,
    sent: Vec<Vec<u8>>,
    taken: Vec<Vec<u8>>,
    failures: Vec<String>,
}

impl End {
    fn new(role: LinkRole, script: Vec<Vec<u8>>) -> End {
        End {
            link: LinkEnd::new(role),
            script: script.into(),
            outbox: VecDeque::new(),
            awaiting_answer: false,
            sent: Vec::new(),
            taken: Vec::new(),
            failures: Vec::new(),
        }
    }

    fn finished(&self) -> bool {
        self.script.is_empty() && self.outbox.is_empty() && !self.awaiting_answer && self.link.can_send()
    }
}

/// Bytes on their way in one direction, in order.
#[derive(Default)]
struct Direction {
    pieces: VecDeque<(u64, Vec<u8>)>,
    last_arrival_ms: u64,
}

struct Line {
    rng: StdRng,
    plan: Plan,
    directions: [Direction; 2],
    last_fault_ms: Option<u64>,
    faults: u32,
}

impl Line {
    fn fault_now(&mut self, now_ms: u64) -> bool {
        let spaced = self.last_fault_ms.is_none_or(|last| now_ms >= last + FAULT_SPACING_MS);
        if spaced && self.rng.gen_range(0..1_000) < self.plan.fault_per_mille {
            self.last_fault_ms = Some(now_ms);
            self.faults += 1;
            return true;
        }
        false
    }

    /// What end `from` wrote: maybe damaged, cut in pieces, each arriving a little later.
    fn write(&mut self, from: usize, mut bytes: Vec<u8>, now_ms: u64) {
        let trace = std::env::var("LINK_TRACE").is_ok();
        if bytes.starts_with(&[DLE, STX]) {
            if self.fault_now(now_ms) {
                if let Some(last) = bytes.last_mut() {
                    *last ^= 0xA5;
                }
            }
        } else {
            debug_assert!(bytes.iter().all(|byte| *byte == ACK || *byte == NAK));
            let mut kept = Vec::with_capacity(bytes.len());
            for byte in bytes {
                if !self.fault_now(now_ms) {
                    kept.push(byte);
                }
            }
            bytes = kept;
        }
        if trace {
            eprintln!("{now_ms:>6} end {from} writes {bytes:02x?}");
        }
        let mut rest = bytes.as_slice();
        while !rest.is_empty() {
            let size = self.rng.gen_range(1..=rest.len());
            let (piece, after) = rest.split_at(size);
            rest = after;
            let delay = if self.plan.delay_ms_max == 0 { 0 } else { self.rng.gen_range(0..=self.plan.delay_ms_max) };
            let direction = &mut self.directions[from];
            let arrival = (now_ms + delay).max(direction.last_arrival_ms) + transmit_ms(piece.len());
            direction.last_arrival_ms = arrival;
            direction.pieces.push_back((arrival, piece.to_vec()));
        }
    }
}

fn think(rng: &mut StdRng, plan: &Plan) -> u64 {
    if plan.think_ms_max == 0 {
        0
    } else {
        rng.gen_range(0..=plan.think_ms_max)
    }
}

/// Runs the plan; returns the two ends and the line when every message is through (or the first
/// reason it is not).
fn simulate(plan: &Plan) -> Result<([End; 2], Line), String> {
    let mut rng = StdRng::seed_from_u64(plan.seed);
    let scripts: [Vec<Vec<u8>>; 2] =
        plan.messages.map(|count| (0..count).map(|_| MESSAGES[rng.gen_range(0..MESSAGES.len())].to_vec()).collect());
    let [first, second] = scripts;
    let mut ends = [End::new(LinkRole::Ecr, first), End::new(LinkRole::Terminal, second)];
    let mut line = Line {
        rng: StdRng::seed_from_u64(plan.seed.rotate_left(17)),
        plan: plan.clone(),
        directions: Default::default(),
        last_fault_ms: None,
        faults: 0,
    };
    let mut now_ms = 0u64;
    while now_ms <= RUN_MS_MAX {
        for index in 0..2 {
            step_end(index, &mut ends, &mut line, &mut rng, plan, now_ms);
        }
        if ends.iter().all(End::finished) && line.directions.iter().all(|d| d.pieces.is_empty()) {
            return Ok((ends, line));
        }
        if let Some(failure) = ends.iter().flat_map(|end| end.failures.first()).next() {
            return Err(failure.clone());
        }
        let Some(next) = next_event_ms(&ends, &line) else {
            let state: Vec<String> = ends
                .iter()
                .enumerate()
                .map(|(index, end)| {
                    format!(
                        "end {index}: sent {:?}, took {:?}, awaiting answer {}, script left {}",
                        end.sent,
                        end.taken,
                        end.awaiting_answer,
                        end.script.len()
                    )
                })
                .collect();
            return Err(format!("stuck at {now_ms} ms: {}", state.join("; ")));
        };
        now_ms = next.max(now_ms + 1);
    }
    Err(format!("not finished after {RUN_MS_MAX} ms of virtual time"))
}

/// Everything end `index` does at `now_ms`: take the line's bytes, let time pass, run the
/// application, send.
fn step_end(index: usize, ends: &mut [End; 2], line: &mut Line, rng: &mut StdRng, plan: &Plan, now_ms: u64) {
    let other = 1 - index;
    let mut outputs = Vec::new();
    while line.directions[other].pieces.front().is_some_and(|(arrival, _)| *arrival <= now_ms) {
        if let Some((_, piece)) = line.directions[other].pieces.pop_front() {
            outputs.extend(ends[index].link.on_bytes(&piece, now_ms));
        }
    }
    outputs.extend(ends[index].link.on_tick(now_ms));
    let end = &mut ends[index];
    while let Some(apdu) = end.link.pop_received() {
        if apdu == ANSWER {
            if !end.awaiting_answer {
                end.failures.push(format!("end {index} took an answer it was not waiting for at {now_ms} ms"));
            }
            end.awaiting_answer = false;
        } else {
            end.outbox.push_back((now_ms + think(rng, plan), ANSWER.to_vec()));
        }
        if std::env::var("LINK_TRACE").is_ok() {
            eprintln!("{now_ms:>6} end {index} takes {apdu:02x?}");
        }
        end.taken.push(apdu);
    }
    if !end.awaiting_answer && !end.outbox.iter().any(|(_, apdu)| *apdu != ANSWER) {
        if let Some(message) = end.script.pop_front() {
            end.outbox.push_back((now_ms + think(rng, plan), message));
        }
    }
    if end.link.can_send() && end.outbox.front().is_some_and(|(at, _)| *at <= now_ms) {
        if let Some((_, apdu)) = end.outbox.pop_front() {
            if apdu != ANSWER {
                end.awaiting_answer = true;
            }
            match end.link.send(&apdu, now_ms) {
                Ok(more) => outputs.extend(more),
                Err(busy) => end.failures.push(format!("end {index}: {busy}")),
            }
            end.sent.push(apdu);
        }
    }
    for output in outputs {
        match output {
            LinkOutput::Write(bytes) => line.write(index, bytes, now_ms),
            LinkOutput::SendFinished(Ok(())) => {}
            LinkOutput::SendFinished(Err(failed)) => {
                end.failures.push(format!("end {index} at {now_ms} ms: {failed} (outside the retry bounds)"))
            }
        }
    }
}

fn next_event_ms(ends: &[End; 2], line: &Line) -> Option<u64> {
    let arrivals = line.directions.iter().filter_map(|direction| direction.pieces.front().map(|(at, _)| *at));
    let deadlines = ends.iter().filter_map(|end| end.link.next_deadline_ms());
    let outboxes =
        ends.iter().filter(|end| end.link.can_send()).filter_map(|end| end.outbox.front().map(|(at, _)| *at));
    arrivals.chain(deadlines).chain(outboxes).min()
}

fn check(plan: &Plan) -> Result<u32, String> {
    let (ends, line) = simulate(plan)?;
    for (index, end) in ends.iter().enumerate() {
        let other = &ends[1 - index];
        if other.taken != end.sent {
            return Err(format!(
                "end {} took {} APDUs, end {index} sent {}: {:?} vs {:?}",
                1 - index,
                other.taken.len(),
                end.sent.len(),
                other.taken,
                end.sent
            ));
        }
    }
    Ok(line.faults)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn every_apdu_is_taken_exactly_once_within_the_retry_bounds(plan in plans()) {
        if let Err(failure) = check(&plan) {
            prop_assert!(false, "{failure} ({plan:?})");
        }
    }
}

/// The simulation is not vacuous: over many seeds faults happen, frames cross, copies after lost
/// ACKs are dropped, and the crossing rule resends frames.
#[test]
fn the_simulation_meets_every_fault_it_claims_to() {
    let mut totals: BTreeMap<&str, u64> = BTreeMap::new();
    let mut rng = StdRng::seed_from_u64(18);
    for seed in 0..300 {
        let plan = Plan {
            seed,
            messages: [rng.gen_range(5..25), rng.gen_range(5..25)],
            fault_per_mille: rng.gen_range(100..600),
            delay_ms_max: rng.gen_range(0..40),
            think_ms_max: rng.gen_range(0..400),
        };
        let (ends, line) = simulate(&plan).unwrap_or_else(|failure| panic!("{failure} ({plan:?})"));
        *totals.entry("faults").or_default() += u64::from(line.faults);
        for end in &ends {
            let statistics = end.link.statistics();
            *totals.entry("resends").or_default() += statistics.resends;
            *totals.entry("copies dropped").or_default() += statistics.copies_dropped;
            *totals.entry("collisions").or_default() += statistics.collisions;
            *totals.entry("naks").or_default() += statistics.naks_sent;
            *totals.entry("undecided frames").or_default() += statistics.undecided;
            *totals.entry("undecided frames that were new").or_default() += statistics.undecided_new;
            *totals.entry("undecided frames that were copies").or_default() +=
                statistics.undecided - statistics.undecided_new;
        }
    }
    for (what, count) in &totals {
        assert!(*count > 0, "no {what} in 300 runs: {totals:?}");
    }
}
