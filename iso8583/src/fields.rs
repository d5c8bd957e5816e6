//! Names of the fields this system uses (PROTOCOLS.md §1), so code says `fields::STAN`, not `11`.

pub const PAN: u8 = 2;
pub const PROCESSING_CODE: u8 = 3;
pub const AMOUNT: u8 = 4;
pub const TRANSMISSION_DATE_TIME: u8 = 7;
pub const STAN: u8 = 11;
pub const LOCAL_TIME: u8 = 12;
pub const LOCAL_DATE: u8 = 13;
pub const EXPIRY: u8 = 14;
pub const POS_ENTRY_MODE: u8 = 22;
pub const TRACK_2: u8 = 35;
pub const RETRIEVAL_REFERENCE: u8 = 37;
pub const AUTHORIZATION_CODE: u8 = 38;
pub const RESPONSE_CODE: u8 = 39;
pub const TERMINAL_ID: u8 = 41;
pub const MERCHANT_ID: u8 = 42;
pub const TRACK_1: u8 = 45;
pub const BRAND_DATA: u8 = 48;
pub const CURRENCY: u8 = 49;
pub const PIN_DATA: u8 = 52;
pub const ICC_DATA: u8 = 55;
pub const NETWORK_MANAGEMENT_CODE: u8 = 70;
pub const ORIGINAL_DATA: u8 = 90;

/// Field 3 values.
pub const PROCESSING_PURCHASE: &str = "000000";
pub const PROCESSING_REFUND: &str = "200000";
/// Field 49: JPY.
pub const CURRENCY_JPY: &str = "392";
/// Field 70 values.
pub const NETWORK_SIGN_ON: &str = "001";
pub const NETWORK_SIGN_OFF: &str = "002";
pub const NETWORK_ECHO: &str = "301";
