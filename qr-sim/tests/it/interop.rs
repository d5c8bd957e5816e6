//! The official PayPay Python SDK (`paypayopa` 1.0.9), unchanged, against the simulator. Fails —
//! never skips — when Python or the package is missing (install: `python3 -m pip install
//! paypayopa==1.0.9`). `QR_SIM_PYTHON` names another interpreter.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use qr_sim::{QrSimConfig, QrSimHandle};
use serde_json::Value;

fn run_sdk(handle: QrSimHandle, run_id: String) -> (HashMap<String, Value>, Value) {
    let python = std::env::var("QR_SIM_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/paypay_sdk_interop.py");
    let mut child = Command::new(&python)
        .args([script, &handle.base_url(), "sample_key", "sample_secret", &run_id])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot run {python} (Python 3 with paypayopa 1.0.9 is required): {error}"));
    let mut stdin = child.stdin.take().unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut steps = HashMap::new();
    let mut done = Value::Null;
    for line in stdout.lines() {
        let line = line.unwrap();
        let message: Value = serde_json::from_str(&line).unwrap_or_else(|error| panic!("{error}: {line}"));
        if let Some(id) = message["pay"].as_str() {
            handle.pay(id).unwrap();
            writeln!(stdin, "paid").unwrap();
            stdin.flush().unwrap();
        } else if let Some(step) = message["step"].as_str() {
            steps.insert(step.to_string(), message["response"].clone());
        } else if message["done"] == true {
            done = message;
        }
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "the SDK script failed ({status}); is paypayopa 1.0.9 installed for {python}?");
    (steps, done)
}

fn code(steps: &HashMap<String, Value>, step: &str) -> String {
    let response = steps.get(step).unwrap_or_else(|| panic!("step {step} missing"));
    assert!(response["resultInfo"]["codeId"].is_string(), "{step}: {response}");
    response["resultInfo"]["code"].as_str().unwrap_or_else(|| panic!("{step}: {response}")).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_paypay_python_sdk_works_unchanged() {
    // The SDK signs with the real clock, so the simulator uses it too.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let handle = qr_sim::start(listener, QrSimConfig::example()).await.unwrap();
    let run_id = format!("{}", std::process::id());
    let (steps, done) = tokio::task::spawn_blocking({
        let handle = handle.clone();
        move || run_sdk(handle, run_id)
    })
    .await
    .unwrap();
    assert_eq!(done["version"], "1.0.9");

    let expected = [
        ("create", "SUCCESS"),
        ("create_duplicate", "DUPLICATE_DYNAMIC_QR_REQUEST"),
        ("code_status_created", "SUCCESS"),
        ("create_withdrawn", "SUCCESS"),
        ("delete_code", "SUCCESS"),
        ("code_status_withdrawn", "SUCCESS"),
        ("code_status_completed", "SUCCESS"),
        ("payment_details", "SUCCESS"),
        ("refund", "SUCCESS"),
        ("refund_repeated", "SUCCESS"),
        ("refund_too_much", "INVALID_PARAMS"),
        ("refund_details", "SUCCESS"),
        ("refund_details_unknown", "NO_SUCH_REFUND_ORDER"),
        ("refund_unknown_payment", "RESOURCE_NOT_FOUND"),
        ("create_cancelled", "SUCCESS"),
        ("cancel", "REQUEST_ACCEPTED"),
        ("payment_details_cancelled", "SUCCESS"),
        ("payment_details_unknown", "DYNAMIC_QR_PAYMENT_NOT_FOUND"),
        ("barcode_payment", "SUCCESS"),
        ("barcode_declined", "INVALID_USER_CODE"),
        ("wrong_secret", "UNAUTHORIZED"),
    ];
    for (step, result) in expected {
        assert_eq!(code(&steps, step), result, "{step}: {}", steps[step]);
    }
    assert_eq!(steps["code_status_created"]["data"]["status"], "CREATED");
    assert_eq!(steps["code_status_withdrawn"]["data"]["status"], "CANCELED");
    assert_eq!(steps["code_status_completed"]["data"]["status"], "COMPLETED");
    assert_eq!(steps["refund"]["data"]["amount"]["amount"], 100);
    assert_eq!(steps["refund_repeated"]["data"], steps["refund"]["data"]);
    assert_eq!(steps["refund_details"]["data"]["merchantRefundId"], steps["refund"]["data"]["merchantRefundId"]);
    assert_eq!(steps["payment_details_cancelled"]["data"]["status"], "FAILED");
    assert_eq!(steps["barcode_payment"]["data"]["status"], "COMPLETED");
    assert_eq!(steps["barcode_payment"]["data"]["amount"]["amount"], 470);
    assert!(steps["create"]["data"]["url"]
        .as_str()
        .unwrap()
        .ends_with(steps["create"]["data"]["codeId"].as_str().unwrap()));

    // The simulator's own record agrees.
    let payments = handle.payments();
    let status_of = |suffix: &str| {
        payments.iter().find(|p| p.merchant_payment_id.as_str().ends_with(suffix)).map(|p| p.status.to_string())
    };
    assert_eq!(status_of("-A").as_deref(), Some("COMPLETED"));
    assert_eq!(status_of("-B").as_deref(), Some("CANCELED"));
    assert_eq!(status_of("-C").as_deref(), Some("FAILED"));
    assert_eq!(status_of("-D").as_deref(), Some("COMPLETED"));
    assert_eq!(status_of("-E").as_deref(), Some("FAILED"));
    let scanned = payments.iter().find(|p| p.merchant_payment_id.as_str().ends_with("-D")).unwrap();
    assert_eq!(scanned.flow, qr_sim::Flow::CustomerPresented { user_code: "281234567890123456".into() });
    let paid = payments.iter().find(|p| p.merchant_payment_id.as_str().ends_with("-A")).unwrap();
    assert_eq!(paid.refunded.get(), 100);
    assert_eq!(handle.refunds().len(), 1);

    // Every SDK request was verified: the trailing-slash refund path, the signed `{}` DELETE,
    // the bodiless cancel, and the wrong secret refused.
    let received = handle.received();
    assert!(received.iter().any(|r| r.method == "POST" && r.path == "/v2/refunds/" && r.code.is_success()));
    assert!(received
        .iter()
        .any(|r| r.method == "DELETE" && r.path.starts_with("/v2/codes/04-") && r.code.is_success()));
    assert!(received
        .iter()
        .any(|r| r.method == "DELETE" && r.path.starts_with("/v2/payments/") && r.code.is_success()));
    let refused: Vec<_> = received.iter().filter(|r| r.code == qr_protocol::ResultCode::Unauthorized).collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    handle.shutdown().await;
}
