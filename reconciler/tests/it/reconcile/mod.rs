//! Tests of matching and the day's reconciliation, built as one test binary: golden days whose
//! every figure is written down, the books, the bank and the text of issue 21, and generated
//! days with injected and planted discrepancies.

mod books;
mod golden;
mod properties;
pub(crate) mod support;
