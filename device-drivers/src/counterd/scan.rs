//! counterd's scan and show-QR commands.
//!
//! ScanCode opens the barcode scanner (discarding anything scanned before the command: a code
//! lying in the line's buffer may be a stale customer's), waits for one code within the command's
//! bound, and reports it. When the command names a sale and a QR brand, the code is the one the
//! customer presented from their payment app, and counterd pays the sale with it
//! (`POST /v1/sales/{id}/payments`, method `qr`), under an idempotency key made from the command
//! id, so that a repeat after a crash is answered by the gateway, never paid twice.
//!
//! ShowQr: this counter's customer display is the gateway's display page of the register (which
//! renders the QR code of the register's QR payment itself), or there is none.

use std::time::Duration;

use pos_core::api::{CommandOutput, CommandResult, PaymentRequest, SCAN_WAIT_MS_DEFAULT, SCAN_WAIT_MS_MAX};
use pos_core::{Brand, Method};

use super::{done, failed, Counterd, CustomerDisplay};
use crate::scanner::{ScannedCode, Scanner};

/// The longest customer-presented payment code accepted (PayPay's are 18 digits).
pub const CUSTOMER_CODE_DIGITS_MAX: usize = 32;

/// The idempotency key of the payment a scan command makes.
pub fn payment_key(command_id: &str) -> String {
    format!("counterd-{command_id}-payment")
}

/// A code a customer presented from a payment app: digits only, bounded.
fn is_customer_code(code: &str) -> bool {
    !code.is_empty() && code.len() <= CUSTOMER_CODE_DIGITS_MAX && code.bytes().all(|byte| byte.is_ascii_digit())
}

impl Counterd {
    pub(super) async fn scan_code(
        &mut self,
        command_id: &str,
        sale_id: Option<&str>,
        brand: Option<Brand>,
        wait_ms: Option<u64>,
    ) -> CommandResult {
        let wait = Duration::from_millis(wait_ms.unwrap_or(SCAN_WAIT_MS_DEFAULT).min(SCAN_WAIT_MS_MAX));
        let stream = match self.devices.open_scanner() {
            None => return failed("not supported: this counter has no barcode scanner".to_string(), None),
            Some(Err(error)) => return failed(format!("scanner: {error}"), None),
            Some(Ok(stream)) => stream,
        };
        let (mut codes, reader) = Scanner::spawn(stream, self.settings.scanner_suffix).into_parts();
        let scanned = tokio::time::timeout(wait, codes.recv()).await;
        // The reader holds the line; the next scan command opens it afresh.
        reader.abort();
        let code = match scanned {
            Ok(Some(code)) => code,
            Ok(None) => return failed("scanner: the line closed before a code was read".to_string(), None),
            Err(_) => return failed(format!("no code was scanned within {} ms", wait.as_millis()), None),
        };
        let Ok(text) = code.as_text().map(str::to_string) else {
            return failed("the scanned code is not text".to_string(), None);
        };
        // A customer's payment code is a bearer credential: its result (kept in counterd's own
        // journal and sent to the gateway) carries it masked.
        let output = Some(CommandOutput::Scanned { code: pos_core::mask_scanned(&text, sale_id.is_some()) });
        let (Some(sale_id), Some(brand)) = (sale_id, brand) else {
            return CommandResult { output, ..done(format!("scanned {}", describe(&code)), None) };
        };
        if !is_customer_code(&text) {
            let detail = format!("the scanned code is not a customer payment code ({})", describe(&code));
            return CommandResult { output, ..failed(detail, None) };
        }
        let request = PaymentRequest {
            method: Method::Qr,
            tendered: None,
            amount: None,
            brand: Some(brand),
            customer_code: Some(text),
        };
        let result = match self.client.start_payment(sale_id, &request, &payment_key(command_id)).await {
            Ok(started) => done(
                format!(
                    "paid sale {sale_id} with the customer's {brand} code: payment {} {}",
                    started.payment.id, started.payment.state
                ),
                None,
            ),
            Err(error) => {
                failed(format!("the customer's {brand} code was scanned; the payment was refused: {error}"), None)
            }
        };
        CommandResult { output, ..result }
    }

    pub(super) fn show_qr(&self, payload: &str) -> CommandResult {
        match self.settings.customer_display {
            CustomerDisplay::None => failed("not supported: this counter has no customer display".to_string(), None),
            CustomerDisplay::DisplayPage => done(
                format!(
                    "the customer display is the register's display page (/v1/registers/{}/display), which shows the \
                     QR code of the register's payment; {} characters acknowledged",
                    self.settings.register,
                    payload.chars().count()
                ),
                None,
            ),
        }
    }
}

/// A code for the log and the clerk: its length only, never its contents (a customer's payment
/// code is a bearer token for the next minutes).
fn describe(code: &ScannedCode) -> String {
    format!("a {}-byte code", code.as_bytes().len())
}
