//! Tests of matching and the day's reconciliation, built as one test binary: golden days whose
//! every figure is written down, and generated days with one injected discrepancy each.

mod golden;
mod properties;
mod support;
