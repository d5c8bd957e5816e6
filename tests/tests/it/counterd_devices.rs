//! counterd's other devices end to end: a simulated ESC/POS printer with its drawer and a barcode
//! scanner, each on a pseudo-terminal pair, and the terminal simulator for the end of day. The
//! clerk's commands go through the gateway (`POST /v1/registers/{id}/commands`), counterd takes
//! them by long poll and runs them on the devices, and the gateway shows how each ended.

use device_drivers::counterd::{SystemDevices, TerminalAddress};
use device_drivers::printer::receipt::{Issue, Receipt, REPRINT_MARK};
use device_drivers::printer::simulator::{DrawerKick, Paper};
use device_drivers::terminal_sim::CardSource;
use e2e::counter_rig::{
    counterd_with, ended, is_charge_of, printer, run_command, scanner, start_sale, terminal, until,
};
use e2e::Counter;
use pos_core::api::{CommandKind, CommandOutput, CommandState, DeviceCommand, SaleView, TotalsSlot};
use pos_core::{Brand, Method, Yen};
use serde_json::json;

const REGISTER: &str = "R0101";
const CLERK: &str = "clerk-r0101";
/// The test card of JCB, whole: it must appear nowhere on paper.
const JCB_PAN: &str = "3530111333300000";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn receipts_reprints_the_drawer_and_the_end_of_day_run_on_the_counters_devices() {
    let counter = Counter::start().await;
    let dir = tempfile::tempdir().expect("dir");
    let terminal = terminal(&counter, 10_010_101, CardSource::fixed(Brand::Jcb).expect("brand"), dir.path(), 20).await;
    let mut printer = printer();
    let devices = SystemDevices {
        terminal: TerminalAddress::Serial(terminal.path.clone()),
        printer: Some(printer.path.clone()),
        scanner: None,
    };
    let task = counterd_with(&counter, REGISTER, devices, &dir.path().join("counterd.json"));

    // A card sale: the gateway queues the receipt once the sale is paid, and counterd prints it.
    let line = json!({ "fee_item": "KOSEKI-ZENBU", "quantity": 1 });
    let started = start_sale(&counter, CLERK, REGISTER, line, "card").await;
    let charge = ended(&counter, REGISTER, is_charge_of(&started.payment.id)).await;
    assert_eq!(charge.state, CommandState::Done, "{charge:?}");
    let print = ended(
        &counter,
        REGISTER,
        |k| matches!(k, CommandKind::PrintReceipt { sale_id, reprint: false } if *sale_id == started.sale.id),
    )
    .await;
    assert_eq!(print.state, CommandState::Done, "{print:?}");
    let sale: SaleView = counter.get(CLERK, &format!("/v1/sales/{}", started.sale.id)).await;
    let expected = Receipt::from_sale(&sale, "市民課", "見本市", Issue::Original).expect("receipt");
    let printed = printer.output.wait_for(|o| !o.documents.is_empty()).await.expect("printer").documents[0].clone();
    assert_eq!(printed, expected.document(device_drivers::printer::receipt::RECEIPT_WIDTH).render_text());
    assert!(printed.contains("領収書") && printed.contains(&expected.number_text()), "{printed}");
    assert!(printed.contains("353011******0000"), "the masked card is on the receipt:\n{printed}");
    assert!(!printed.contains(JCB_PAN));
    assert!(!printed.contains(REPRINT_MARK));

    // The clerk asks for a reprint (再発行).
    let reprint = json!({ "kind": "print_receipt", "sale_id": sale.id, "reprint": true });
    let command = run_command(&counter, CLERK, REGISTER, reprint.clone()).await;
    assert_eq!(command.state, CommandState::Done, "{command:?}");
    let output = printer.output.wait_for(|o| o.documents.len() == 2).await.expect("printer").clone();
    assert!(output.documents[1].contains(REPRINT_MARK), "{}", output.documents[1]);
    assert!(output.documents[1].contains(&expected.number_text()));

    // The drawer: the kick pulse reaches the printer's drawer connector, and the drawer opens.
    let command = run_command(&counter, CLERK, REGISTER, json!({ "kind": "open_drawer" })).await;
    assert_eq!(command.state, CommandState::Done, "{command:?}");
    let kicks = printer.output.wait_for(|o| !o.drawer_kicks.is_empty()).await.expect("printer").drawer_kicks.clone();
    assert_eq!(kicks, [DrawerKick { pin: 0, on_ms: 50, off_ms: 500 }]);
    assert!(printer.panel.drawer_open());

    // The terminal's end of day: its BMP 60 totals (ZVT's card slots) come back as the command's
    // result, as the ECR driver parsed them.
    let command = run_command(&counter, CLERK, REGISTER, json!({ "kind": "end_of_day" })).await;
    assert_eq!(command.state, CommandState::Done, "{command:?}");
    let totals = match command.result.and_then(|r| r.output) {
        Some(CommandOutput::EndOfDay { totals }) => totals,
        other => panic!("no totals: {other:?}"),
    };
    assert_eq!(totals.total, sale.amount_total, "BMP 04, the sum of the slots");
    assert_eq!(totals.slots.len(), 7);
    for slot in &totals.slots {
        let expected = if slot.slot == TotalsSlot::Jcb { (1, sale.amount_total) } else { (0, Yen::ZERO) };
        assert_eq!((slot.count, slot.turnover), expected, "{slot:?}");
    }
    assert!(totals.receipt_first >= 1 && totals.receipt_last >= totals.receipt_first, "{totals:?}");

    // Paper out: the reprint fails, the gateway shows why, and nothing is printed.
    printer.panel.set_paper(Paper::Out);
    let command = run_command(&counter, CLERK, REGISTER, reprint).await;
    assert_eq!(command.state, CommandState::Failed, "{command:?}");
    let detail = command.result.map(|r| r.detail).unwrap_or_default();
    assert!(detail.contains("paper out"), "{detail}");
    assert_eq!(printer.output.borrow().documents.len(), 2);
    task.abort();
    counter.stop().await;
}

/// Scans `code` on `scanner` every few hundred milliseconds until command `id` ends (counterd
/// discards what was scanned before it opened the scanner, so one early scan could be lost).
async fn scan_until_ended(
    counter: &Counter,
    scanner: &mut e2e::counter_rig::SimulatedScanner,
    command: serde_json::Value,
    code: &str,
) -> DeviceCommand {
    let queued: DeviceCommand = counter.post(CLERK, &format!("/v1/registers/{REGISTER}/commands"), &command).await;
    let deadline = tokio::time::Instant::now() + e2e::counter_rig::WAIT_MAX;
    loop {
        let commands = e2e::counter_rig::commands(counter, REGISTER).await;
        if let Some(ended) = commands.into_iter().find(|c| c.id == queued.id && c.result.is_some()) {
            return ended;
        }
        assert!(tokio::time::Instant::now() < deadline, "the scan command did not end");
        scanner.scan(code).await;
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scans_are_reported_a_customer_code_pays_the_sale_and_show_qr_needs_a_display() {
    let (counter, qr) = Counter::start_with_qr(true).await;
    let dir = tempfile::tempdir().expect("dir");
    let terminal = terminal(&counter, 10_010_101, CardSource::fixed(Brand::Visa).expect("brand"), dir.path(), 20).await;
    let mut scanner = scanner();
    let devices = SystemDevices {
        terminal: TerminalAddress::Serial(terminal.path.clone()),
        printer: None,
        scanner: Some(scanner.path.clone()),
    };
    let task = counterd_with(&counter, REGISTER, devices, &dir.path().join("counterd.json"));

    // A scan on its own: the code comes back as the command's output.
    let scan = json!({ "kind": "scan_code", "wait_ms": 20_000 });
    let command = scan_until_ended(&counter, &mut scanner, scan, "4901234567894").await;
    assert_eq!(command.state, CommandState::Done, "{command:?}");
    assert_eq!(
        command.result.and_then(|r| r.output),
        Some(CommandOutput::Scanned { code: "4901234567894".to_string() })
    );

    // Nothing scanned within the bound: the command fails and says so.
    let command = run_command(&counter, CLERK, REGISTER, json!({ "kind": "scan_code", "wait_ms": 300 })).await;
    assert_eq!(command.state, CommandState::Failed, "{command:?}");
    assert!(command.result.is_some_and(|r| r.detail.contains("no code was scanned within 300 ms")));

    // The customer presents a PayPay code for a sale: counterd pays the sale with it.
    counter.open_shift(CLERK, REGISTER).await;
    let sale: SaleView = counter
        .post(
            CLERK,
            "/v1/sales",
            &json!({ "register_id": REGISTER, "lines": [{ "fee_item": "JUMINHYO", "quantity": 1 }] }),
        )
        .await;
    let code = "281234567890123456";
    let scan = json!({ "kind": "scan_code", "sale_id": sale.id, "brand": "PAYPAY", "wait_ms": 20_000 });
    let command = scan_until_ended(&counter, &mut scanner, scan, code).await;
    let result = command.result.expect("result");
    assert_eq!(result.output, Some(CommandOutput::Scanned { code: "2812**********3456".to_string() }), "kept masked");
    assert!(!result.detail.contains(code), "the code is not repeated in the detail: {}", result.detail);
    let sale: SaleView = counter.get(CLERK, &format!("/v1/sales/{}", sale.id)).await;
    // The register's own device may pay its sale with the customer's code, once.
    assert_eq!(result.state, CommandState::Done, "{}", result.detail);
    assert_eq!(sale.payments.len(), 1, "{sale:?}");
    assert_eq!((sale.payments[0].method, sale.payments[0].brand), (Method::Qr, Some(Brand::PayPay)));
    assert_eq!(qr.payments().len(), 1, "one charge at the provider");
    assert_eq!(sale.amount_total, Yen::new(300).expect("yen"));

    // No customer display at this counter: show-QR is not supported.
    let command =
        run_command(&counter, CLERK, REGISTER, json!({ "kind": "show_qr", "payload": "https://qr.example/p/1" })).await;
    assert_eq!(command.state, CommandState::Failed, "{command:?}");
    assert!(command.result.is_some_and(|r| r.detail.starts_with("not supported")));

    // Bad commands are refused before they are queued.
    let refused = demo::rig::http_client()
        .post(format!("{}/v1/registers/{REGISTER}/commands", counter.base))
        .bearer_auth(Counter::token_of(CLERK))
        .header("Idempotency-Key", "bad-show-qr")
        .json(&json!({ "kind": "show_qr", "payload": "" }))
        .send()
        .await
        .expect("request");
    assert_eq!(refused.status(), 422);
    let body: serde_json::Value = refused.json().await.expect("error body");
    assert_eq!(body["error"]["field"], "payload");
    let _ = until("the register has no open command", || async {
        let open = e2e::counter_rig::commands(&counter, REGISTER).await.into_iter().any(|c| c.result.is_none());
        (!open).then_some(())
    })
    .await;
    task.abort();
    counter.stop().await;
}
