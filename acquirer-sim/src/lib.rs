//! A simulated **card acquirer** and **e-money centre** speaking ISO 8583 over TLS
//! (PROTOCOLS.md §1), for tests, the demo and benchmarks: the gateway's acquirer connectors
//! connect to it as they would to the real centres. It books what it approves in a ledger,
//! injects faults on demand, and writes the settlement file the reconciler reads (§4.1, §4.3).
//!
//! # How it fits together
//!
//! [`start`] takes a bound listener and a [`SimulatorConfig`] and spawns the server; the
//! [`SimulatorHandle`] it returns sets faults, reads the ledger and the log of received
//! messages, turns acceptance off and on, writes settlement files and shuts down. [`server`]
//! owns sockets and tasks; [`requests`] turns one decoded request into its answer and its
//! booking (no I/O, no clock: time is handed in through [`StartOptions`]); [`ledger`] holds the
//! books; [`fault`] the fault plans; [`settlement`] renders the files from ledger entries.
//!
//! # Behaviour
//!
//! - **Connections.** Each connection is TLS (the configured `rustls::ServerConfig`), framed by
//!   a 2-byte big-endian length ([`iso8583::FrameCodec`]), decoded with
//!   [`iso8583::Spec::default_1987`]. Answers go back on the same connection. Requests are
//!   booked in order of arrival and each is answered as soon as it is ready, so several may be in
//!   flight at once; clients match answers by fields 11 and 41. A frame that does not decode (or
//!   breaks the framing, or exceeds [`server::REQUEST_FRAME_BYTES_MAX`]) is logged and the
//!   connection is closed. At most [`server::CONNECTIONS_MAX`] connections are served; an idle
//!   one is closed after [`server::CONNECTION_IDLE_MS_MAX`].
//! - **0800 → 0810** `00`, field 70 echoed, for sign-on `001`, sign-off `002` and echo `301`;
//!   another code is answered `30`.
//! - **0200 → 0210.** Field 3 `000000` is a purchase, `200000` a refund (the original's RRN in
//!   field 48 tag `ORRN`, e.g. `BR=VISA;ORRN=632810000123`, kept as `original_rrn`). The answer
//!   carries 37 (RRN, 12 digits `YDDDNNSSSSSS`: year digit, day of year, node, sequence; unique
//!   within a simulator), 38 (authorization code, 6 characters, approved sales only: refunds get
//!   none, as the §4.1 example shows) and 39. The outcome is set by the amount in field 4
//!   ([`magic`]): 9051 → `51`, 9005 → `05`, 9054 → `54`, 9014 → `14`, 9055 → `55`, 9091 →
//!   `91`, 9096 → `96`, and on the e-money centre 9099 → `Y1` (outcome unknown: the entry is
//!   booked `Unknown`); any other amount is approved `00`. Refunds are always approved (the
//!   magic amounts are for purchases). Declines and `Y1` are booked with an RRN. The brand comes from field 48 `BR`; the
//!   card is known by its PAN from field 2 (or track 2, field 35) masked at once to first 6 /
//!   last 4, an e-money card by field 48 `ID`. **No full PAN is ever stored or logged.**
//! - **Refused without booking** (and so not a duplicate if sent again): a malformed request
//!   (`30`, format error: a missing field 3, 4, 11, 41, 42 or 48, a field 3 other than the two
//!   above, a zero amount, a currency other than `392`, a refund without a well-formed `ORRN`,
//!   an e-money request without `ID` (or one longer than 20 characters), a field 41 or 42 that
//!   is not letters and digits); a brand of the other centre
//!   or of another method (`05`, do not honour: the acquirer does not take that brand); a card
//!   request whose PAN cannot be read (`14`); a full ledger (`96`).
//! - **Duplicates.** A 0200 whose terminal id and STAN are already booked is answered `94` and
//!   nothing is booked (STANs are expected not to repeat within one simulator's life).
//! - **0400 / 0401 → 0410.** The original is found by field 41 and the STAN in field 90
//!   (original MTI 4, STAN 6, date-time 10, acquirer 11, forwarding 11) and marked `Reversed`
//!   (approved and `Y1` originals alike). The answer is `00` also when the original is unknown,
//!   declined, or already reversed: reversal is idempotent; [`Received::handling`] tells which.
//!   A missing or malformed 90 or 41 is answered `30`. 0410 echoes 11, 41 and 90.
//! - **Faults** ([`FaultPlan`]): consulted per request in list order, the first matching plan
//!   with times left applies and its count goes down. `Delay { ms }` and `LateAnswer { ms }`:
//!   book at once, answer after `ms` (they differ in intent only: within the client's deadline,
//!   or after it), while other requests on the connection are answered meanwhile.
//!   `NoAnswer`: book, never answer (an approval is booked: the gateway must reverse).
//!   `DropConnection`: book, then close the connection without answering (answers still held
//!   back on it are lost). `Garbage`: book, then send a frame of random bytes that does not
//!   decode instead of the answer. `DuplicateAnswer`: answer twice. Booking always happens when
//!   the request is read, so a reversal that follows its original on a connection finds it.
//! - **Acceptance.** [`SimulatorHandle::set_accepting`]`(false)` closes the open connections
//!   and closes new ones as soon as they are accepted, before the TLS handshake (to a client,
//!   the endpoint is down); `true` serves again.
//! - **Settlement files** ([`SimulatorHandle::write_settlement`], [`settlement`]): the card
//!   file holds the approved, unreversed sales and refunds booked on that JST date (§4.1, with
//!   its `TOTAL` trailer); the e-money file (§4.3, Shift_JIS) lists the events of that date:
//!   sales 売上, `Y1` taps 処理未了 (fee 0), refunds and reversals 取消 (negative; a reversal
//!   row negates the row it undoes, fee and all) — see [`settlement::emoney`]. Fees are the brand's
//!   [`FeeTerm`]: `rate × signed gross` rounded by its [`pos_core::Rounding`]; net = gross − fee.
//!   The payout date is `payout_lag_days` bank business days after the date (weekends, national
//!   holidays and 12/31–1/3 skipped, by [`pos_core::holidays`] as the reconciler does). Files
//!   reflect the ledger when
//!   they are written.
//! - **Bounds.** Besides those above: [`ledger::LEDGER_ENTRIES_MAX`] bookings,
//!   [`ledger::RECEIVED_ENTRIES_MAX`] remembered messages, [`server::IN_FLIGHT_PER_CONNECTION_MAX`]
//!   answers held back per connection, [`fault::FAULT_DELAY_MS_MAX`] per delay,
//!   [`fault::FAULT_PLANS_MAX`] plans.

pub mod config;
pub mod error;
pub mod fault;
pub mod ledger;
pub mod magic;
pub mod references;
pub mod requests;
pub mod server;
pub mod settlement;

pub use config::{default_fees, Centre, FeeTerm, SimulatorConfig, StartOptions};
pub use error::SimError;
pub use fault::{Fault, FaultPlan, MessageKind};
pub use ledger::{EntryKind, EntryState, Handling, LedgerEntry, Received, ReversalOutcome};
pub use server::{start, start_with, SimulatorHandle};
pub use settlement::SettlementFaults;
