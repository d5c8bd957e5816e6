//! The receipt printer and its cash drawer, over ESC/POS with Kanji mode and Shift_JIS.
//!
//! Split as the ZVT side is: [`text`] (Shift_JIS and column counting), [`escpos`] (the command
//! bytes and their parser), [`document`] (layout into exact lines, the text rendering and the
//! encoding of the same lines), [`status`] (the `DLE EOT` answers) and [`receipt`] (the city's
//! 領収書 built from a [`pos_core::api::SaleView`]) are pure and need no I/O; [`driver`] talks to
//! the printer within bounds. [`simulator`] is the printer's own side of the line, for tests and
//! the demo.

pub mod document;
pub mod driver;
pub mod escpos;
pub mod receipt;
pub mod simulator;
pub mod status;
pub mod text;
