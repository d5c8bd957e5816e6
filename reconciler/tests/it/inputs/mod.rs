//! Tests of the reconciler's input parsers, one module per format, built as one test binary.

mod bank;
mod card;
mod emoney;
mod file_id;
mod properties;
mod qr;
mod support;
