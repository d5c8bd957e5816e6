//! What is particular to the e-money centre on the shared ISO 8583 link: an outcome the centre
//! itself does not know (`Y1`, 処理未了) — neither approved nor declined, never reversed (the
//! centre settles it later as 売上 or 取消, PROTOCOLS.md §4.3) — and the masked card id the
//! terminal carries in field 48 instead of a card number.

use iso8583::{BrandData, ResponseCode};

/// Whether an answer is the centre's "outcome unknown".
pub fn is_outcome_unknown(code: &ResponseCode) -> bool {
    *code == ResponseCode::OutcomeUnknown
}

/// What the clerk is told of a 処理未了.
pub const OUTCOME_UNKNOWN_NOTE: &str =
    "e-money outcome unknown at the centre (処理未了): checking — do not retry; treasury resolves it";

/// The masked e-money card id of a terminal's request (field 48 `ID`), if it has one.
pub fn masked_card_id(brand_data: &BrandData) -> Option<String> {
    brand_data.card_id.clone()
}
