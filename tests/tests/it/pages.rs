//! The pages, in headless Chromium (Debian's `chromium` through `chromedriver`), acting as the
//! people who use them: a clerk works a shift at the register — cash and card (through counterd
//! and the terminal simulator over a pty), a void, the drawer count ten yen short — and treasury
//! reconciles the day, works the exception and closes the day. A screenshot of every page is kept
//! under `test-artifacts/pages/` (or `$POS_TEST_ARTIFACTS/pages/`).
//!
//! And the pages' authorization: a clerk cannot open another facility's register or any
//! treasury page, in the browser or through the API behind it. A sale paid in parts by every
//! method where split tender is allowed, with the terminal's end-of-day totals after it; and a
//! customer paying (and declining) the displayed QR code on the QR simulator's own page.

use device_drivers::counterd::{SystemDevices, TerminalAddress};
use device_drivers::terminal_sim::CardSource;
use e2e::browser::Browser;
use e2e::counter_rig::{counterd_with, printer, terminal};
use e2e::Counter;
use pos_core::api::{DayBoard, DayStatus, SaleList, ShiftList};
use pos_core::{Brand, BusinessDate};

const REGISTER: &str = "R0101";
const TERMINAL: u32 = 10_010_101;
const FLOAT: i64 = 30_000;

fn today() -> BusinessDate {
    BusinessDate::of_instant(chrono::Utc::now())
}

/// The drawer holding `amount` yen, largest pieces first.
fn count_of(mut amount: i64) -> Vec<(i64, i64)> {
    let mut pieces = Vec::new();
    for face in [10_000, 5_000, 1_000, 500, 100, 50, 10, 5, 1] {
        if amount >= face {
            pieces.push((face, amount / face));
            amount %= face;
        }
    }
    pieces
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_clerk_works_a_shift_and_treasury_closes_the_day_in_the_browser() {
    let counter = Counter::start().await;
    let dir = tempfile::tempdir().expect("dir");
    let terminal = terminal(&counter, TERMINAL, CardSource::fixed(Brand::Visa).expect("brand"), dir.path(), 20).await;
    let printer = printer();
    let devices = SystemDevices {
        terminal: TerminalAddress::Serial(terminal.path.clone()),
        printer: Some(printer.path.clone()),
        scanner: None,
    };
    let counterd = counterd_with(&counter, REGISTER, devices, &dir.path().join("counterd.json"));
    let browser = Browser::start().await;
    let base = counter.base.clone();

    // The clerk signs in and opens the shift with the float.
    browser.sign_in(&base, "demo-clerk-r0101", "/register").await;
    browser.visible("#open-shift-button").await;
    browser.keep_screenshot("01-register-open-shift").await;
    browser.fill("#float", &FLOAT.to_string()).await;
    browser.click("#open-shift-button").await;

    // Two fee items by cash: the tendered amount left empty means exact money.
    browser.click(r#"#items [data-code="JUMINHYO"]"#).await;
    browser.click(r#"#items [data-code="KOSEKI-ZENBU"]"#).await;
    let total = browser.text("#basket-total").await;
    browser.keep_screenshot("02-register-basket").await;
    browser.click("[data-tender=cash]").await;
    browser.visible("#done").await;
    let cash_status = browser.text("#status").await;
    assert!(cash_status.contains("承認") || cash_status.contains("完了"), "{cash_status}");
    browser.click("#next").await;

    // One by card: the charge goes to counterd, the terminal simulator and the acquirer.
    browser.click(r#"#items [data-code="INKAN"]"#).await;
    browser.click("[data-tender=card]").await;
    let approved = browser.text_until("#status", "approved", |t| t.contains("承認されました")).await;
    assert_eq!(approved, "承認されました");
    browser.visible("#done").await;
    // The gateway queued the receipt; counterd printed it on the counter's printer.
    let printed = browser.text_until("#print-result", "the print outcome", |t| t.contains("しました")).await;
    assert_eq!(printed, "領収書を印刷しました");
    browser.keep_screenshot("03-register-card-approved").await;
    browser.click("#reprint").await;
    browser.text_until("#reprint-result", "the reprint", |t| t.contains("再発行")).await;
    let output = printer.output.clone();
    let receipts = e2e::counter_rig::until("the receipts and the reprint on paper", || {
        let documents = output.borrow().documents.clone();
        async move { (documents.len() >= 3).then_some(documents) }
    })
    .await;
    assert!(receipts.iter().filter(|r| r.contains("再発行")).count() == 1, "one reprint, marked 再発行: {receipts:?}");
    browser.click("#next").await;

    // Void the card sale (a same-day card void is a reversal at the acquirer).
    let sales: SaleList = counter.get("treasury", &format!("/v1/sales?register_id={REGISTER}")).await;
    assert_eq!(sales.sales.len(), 2, "two sales rung up");
    let card_sale = sales.sales.iter().find(|s| s.payments.iter().any(|p| p.method == pos_core::Method::Card));
    let card_sale = card_sale.expect("the card sale").clone();
    let cash_taken: i64 = sales
        .sales
        .iter()
        .flat_map(|s| &s.payments)
        .filter(|p| p.method == pos_core::Method::Cash)
        .map(|p| p.amount.get())
        .sum();
    assert_eq!(format!("¥{}", format_thousands(cash_taken)), total, "the basket showed what cash paid");
    browser.click(&format!(r#"tr[data-sale="{}"] [data-action=void]"#, card_sale.id)).await;
    browser.answer_prompt("入力誤り").await;
    browser.visible(&format!(r#"tr[data-sale="{}"][data-state=voided]"#, card_sale.id)).await;
    browser.keep_screenshot("04-register-voided").await;

    // Another card sale, refunded in part: only with a supervisor's approval.
    browser.click(r#"#items [data-code="JUMINHYO"]"#).await;
    browser.click("[data-tender=card]").await;
    browser.text_until("#status", "approved", |t| t.contains("承認されました")).await;
    browser.visible("#done").await;
    browser.click("#next").await;
    let sales: SaleList = counter.get("treasury", &format!("/v1/sales?register_id={REGISTER}")).await;
    let refunded_sale = sales
        .sales
        .iter()
        .find(|s| {
            s.state == pos_core::SaleState::Paid
                && s.id != card_sale.id
                && s.payments.iter().any(|p| p.method == pos_core::Method::Card)
        })
        .expect("the second card sale")
        .clone();
    browser.click(&format!(r#"tr[data-sale="{}"] [data-action=refund]"#, refunded_sale.id)).await;
    browser.fill("#refund-amount", "100").await;
    browser.fill("#refund-reason", "一部取消").await;
    // A code no supervisor issued is refused, and the answer says no more than that.
    browser.fill("#refund-code", "12345678").await;
    browser.click("#refund-send").await;
    browser.text_until("#error", "the refusal", |t| t.contains("not valid")).await;
    // The clerk asks; the supervisor (treasury) approves from its own session.
    browser.click("#refund-request").await;
    browser.text_until("#refund-result", "the request waiting", |t| t.contains("承認待ち")).await;
    browser.keep_screenshot("04b-register-refund-requested").await;
    browser.sign_in(&base, "demo-treasury", "/approvals").await;
    browser.visible("[data-request][data-state=pending] [data-action=approve]").await;
    browser.keep_screenshot("04c-approvals").await;
    browser.click("[data-request][data-state=pending] [data-action=approve]").await;
    browser.visible("[data-request][data-state=approved]").await;
    // Back at the register, the page follows its request to the refund.
    browser.sign_in(&base, "demo-clerk-r0101", "/register").await;
    browser.text_until("#refund-result", "the refund", |t| t.contains("返金しました") && t.contains("treasury")).await;
    browser.keep_screenshot("04d-register-refunded").await;
    let payment_id = refunded_sale.payments[0].id.clone();
    e2e::counter_rig::until("the refund to complete at the acquirer", || {
        let path = format!("/v1/payments/{payment_id}");
        let counter = &counter;
        async move {
            let payment: pos_core::api::PaymentView = counter.get("treasury", &path).await;
            (payment.refunded.get() == 100).then_some(())
        }
    })
    .await;

    // Close the shift with a count ten yen short.
    for (face, pieces) in count_of(FLOAT + cash_taken - 10) {
        browser.fill(&format!(r#"[data-denomination="{face}"]"#), &pieces.to_string()).await;
    }
    browser.click("#close-shift-button").await;
    let over_short = browser.text("#over-short").await;
    assert_eq!(over_short, "−10");
    browser.keep_screenshot("05-register-shift-closed").await;
    let shifts: ShiftList = counter.get("treasury", &format!("/v1/shifts?register_id={REGISTER}")).await;
    assert_eq!(shifts.shifts[0].cash.as_ref().map(|c| c.over_short.get()), Some(-10));

    // Treasury: the board, the reconciliation, the facility's report and its exception.
    let date = today();
    browser.sign_in(&base, "demo-treasury", "/treasury").await;
    browser.visible(r#"tr[data-facility="F01"][data-status=not_reconciled]"#).await;
    browser.keep_screenshot("06-treasury-board").await;
    browser.click("#reconcile").await;
    browser.visible(r#"tr[data-facility="F01"][data-status=exceptions]"#).await;
    browser.keep_screenshot("07-treasury-board-reconciled").await;
    browser.goto(&format!("{base}/treasury/report?date={date}&facility=F01")).await;
    browser.visible(r#"[data-kind=cash_short][data-state=open]"#).await;
    let frame = browser
        .script("return document.getElementById('report-frame').contentDocument.body.innerText", serde_json::json!([]))
        .await;
    assert!(frame.as_str().unwrap_or_default().contains("F01"), "the report is shown: {frame}");
    browser.keep_screenshot("08-treasury-report").await;
    browser.fill("[data-kind=cash_short] [data-field=action]", "出納員に確認").await;
    browser.fill("[data-kind=cash_short] [data-field=note]", "釣銭の渡し過ぎ、10円").await;
    browser.click("[data-kind=cash_short] [data-action=resolve]").await;
    browser.visible(r#"[data-kind=cash_short][data-state=resolved]"#).await;
    browser.click("#close-day").await;
    browser.text_until("#closed-state", "closed", |t| t.contains("締め済み")).await;
    browser.keep_screenshot("09-treasury-report-closed").await;
    let board: DayBoard = counter.get("treasury", &format!("/v1/treasury/days/{date}")).await;
    let f01 = board.facilities.iter().find(|f| f.facility_id.as_str() == "F01").expect("F01");
    assert_eq!(f01.status, DayStatus::Closed);
    assert_eq!(f01.cash_over_short.get(), -10);

    browser.goto(&format!("{base}/treasury/exceptions?date={date}")).await;
    browser.visible(r#"[data-kind=cash_short][data-state=resolved]"#).await;
    browser.keep_screenshot("10-treasury-exceptions").await;

    // Analytics of the day: every chart is drawn, and the share chart carries the day's cash.
    browser.goto(&format!("{base}/analytics?from={date}&to={date}&facility_id=F01")).await;
    for chart in ["cashless-share", "by-method", "by-brand", "heatmap", "top-fee-items", "fees-by-brand", "facilities"]
    {
        browser.visible(&format!(r#"[data-chart="{chart}"] svg"#)).await;
    }
    let values = browser
        .script(
            "return Array.from(document.querySelectorAll('[data-chart=\"by-method\"] svg [data-value]')).map(e => e.getAttribute('data-value'))",
            serde_json::json!([]),
        )
        .await;
    assert!(
        values.as_array().is_some_and(|v| v.iter().any(|x| x.as_str() == Some(&cash_taken.to_string()))),
        "the by-method chart shows the cash taken ({cash_taken}): {values}"
    );
    browser.keep_screenshot("14-analytics").await;

    // The analysts' export behind the page's link, and the month's report with the same charts.
    let export = browser
        .script("return fetch(document.getElementById('tidy-parquet').href).then(r => r.status)", serde_json::json!([]))
        .await;
    assert_eq!(export, serde_json::json!(200), "the Parquet export link works");
    let month = date.to_string()[..7].to_string();
    browser.goto(&format!("{base}/reports/monthly?month={month}")).await;
    for chart in ["cashless-share", "facilities", "fees-by-brand"] {
        browser.visible(&format!(r#"[data-chart="{chart}"]"#)).await;
    }
    assert!(browser.text("#hours").await.ends_with("時間"), "cash handling avoided, in hours");
    browser.keep_screenshot("14b-monthly-report").await;

    browser.quit().await;
    counterd.abort();
    drop((terminal, printer));
    counter.stop().await;
}

fn format_thousands(amount: i64) -> String {
    let digits = amount.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_clerk_cannot_open_another_register_or_any_treasury_page() {
    let counter = Counter::start().await;
    let browser = Browser::start().await;
    let base = counter.base.clone();

    // Without a session every page sends the browser to the sign-in page.
    browser.delete_cookies().await;
    browser.goto(&format!("{base}/treasury")).await;
    browser.visible("#sign-in-form").await;
    assert!(browser.current_url().await.contains("/sign-in?next=/treasury"));
    browser.fill("#token", "not-a-token").await;
    browser.click("#sign-in-button").await;
    browser.text_until("#error", "the refusal", |t| t.contains("unknown token")).await;

    browser.sign_in(&base, "demo-clerk-r0101", "/register").await;
    for page in [
        "/register?register=R0201",
        "/treasury",
        "/treasury/report?date=2026-11-25&facility=F01",
        "/treasury/exceptions",
        "/approvals",
    ] {
        browser.goto(&format!("{base}{page}")).await;
        let refusal = browser.text("h1").await;
        assert_eq!(refusal, "このページを表示する権限がありません", "{page}");
        browser.visible("#forbidden").await;
    }
    browser.keep_screenshot("11-clerk-refused-treasury").await;
    // The API behind the pages refuses the same, with the session cookie as with a token.
    let status = browser
        .script(
            "return fetch('/v1/treasury/days/2026-11-25', {credentials: 'same-origin'}).then(r => r.status)",
            serde_json::json!([]),
        )
        .await;
    assert_eq!(status.as_i64(), Some(403));
    // A cookie-authenticated change without the pages' header is refused (cross-site forgery).
    let forged = browser
        .script(
            "return fetch('/v1/shifts', {method: 'POST', credentials: 'same-origin', headers: {'Content-Type': 'application/json', 'Idempotency-Key': 'x1'}, body: JSON.stringify({register_id: 'R0101', opening_float: 0})}).then(r => r.status)",
            serde_json::json!([]),
        )
        .await;
    assert_eq!(forged.as_i64(), Some(403));

    // An operator sees only its own facilities, in the pages and in what they download.
    let own: pos_core::api::FacilityList = counter.get("op-sports", "/v1/facilities").await;
    let own: Vec<String> = own.facilities.iter().map(|f| f.id.to_string()).collect();
    assert!(!own.is_empty() && !own.contains(&"F01".to_string()));
    browser.sign_in(&base, "demo-op-sports", "/analytics").await;
    browser.visible(r#"[data-chart="facilities"] svg"#).await;
    let listed = browser
        .script(
            "return Array.from(document.querySelectorAll('#facility option')).map(o => o.value).filter(v => v)",
            serde_json::json!([]),
        )
        .await;
    let listed: Vec<String> = serde_json::from_value(listed).expect("facility list");
    assert_eq!(listed, own, "the operator's facility filter lists its facilities only");
    browser.keep_screenshot("15-operator-analytics").await;
    let other = browser
        .script(
            "return fetch('/v1/analytics/facilities?from=2026-11-01&to=2026-11-30&facility_id=F01&format=csv').then(r => r.status)",
            serde_json::json!([]),
        )
        .await;
    assert_eq!(other.as_i64(), Some(403), "another facility's download is refused");
    browser.goto(&format!("{base}/treasury")).await;
    browser.visible("#forbidden").await;

    // English on request, remembered across pages.
    browser.sign_in(&base, "demo-clerk-r0101", "/register").await;
    browser.goto(&format!("{base}/register")).await;
    browser.click("[data-lang=en]").await;
    browser.text_until("#open-shift-button", "English", |t| t == "Open shift").await;
    browser.goto(&format!("{base}/register")).await;
    browser.text_until("#open-shift-button", "English after a reload", |t| t == "Open shift").await;

    browser.quit().await;
    counter.stop().await;
}

/// The QR code in a screenshot, decoded.
fn decode_qr(png: &[u8]) -> Vec<String> {
    let image = image::load_from_memory_with_format(png, image::ImageFormat::Png).expect("PNG").to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    prepared.detect_grids().into_iter().filter_map(|grid| grid.decode().ok().map(|(_, text)| text)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_customer_display_shows_the_code_the_qr_provider_issued() {
    let (counter, sim) = Counter::start_with_qr(false).await;
    let browser = Browser::start().await;
    let base = counter.base.clone();

    // The clerk takes a PayPay payment on the register page; the page shows the display.
    browser.sign_in(&base, "demo-clerk-r0101", "/register").await;
    browser.click("#open-shift-button").await;
    browser.click(r#"#items [data-code="JUMINHYO"]"#).await;
    browser.script("document.getElementById('qr-brand').value = 'PAYPAY'", serde_json::json!([])).await;
    browser.click("[data-tender=qr]").await;
    browser.visible("#qr-display").await;
    let record =
        e2e::counter_rig::until("a code at the provider", || async { sim.payments().into_iter().next() }).await;
    let code_id = match &record.flow {
        qr_sim::Flow::MerchantPresented { code_id } => code_id.clone(),
        other => panic!("unexpected flow {other:?}"),
    };
    let issued = format!("{}/{code_id}", sim.config().payment_url_base);
    browser.keep_screenshot("12-register-qr-waiting").await;

    // The customer display itself (a second screen opens this page), read as a camera would.
    browser.goto(&format!("{base}/v1/registers/{REGISTER}/display")).await;
    browser.visible("svg").await;
    let shown = browser.keep_screenshot("13-customer-display-qr").await;
    let decoded = decode_qr(&std::fs::read(&shown).expect("screenshot"));
    assert_eq!(decoded, vec![issued.clone()], "the display shows the code the simulator issued");
    // Something else is not mistaken for it: a blank page decodes to nothing.
    browser.goto(&format!("{base}/sign-in")).await;
    assert!(decode_qr(&browser.screenshot_png().await).is_empty());

    browser.quit().await;
    counter.stop().await;
}

/// One sale paid in parts where the facility allows split tender: cash with change, a card, a
/// card part cancelled while the terminal waits for the card (the sale stays open, nothing is
/// owed less), e-money, and the rest by QR paid through the QR simulator's control endpoint; the
/// page shows what remains after each part and lists every part on the receipt, the printed
/// 領収書 too. Then the terminal's end of day on the same page: its BMP 60 totals as counterd's
/// ECR driver read them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_clerk_takes_one_sale_in_parts_by_every_method_and_reads_the_terminals_totals() {
    let (counter, sim) = Counter::start_with_qr_controls(|config| {
        let f01 = config.facilities.iter_mut().find(|f| f.id.as_str() == "F01").expect("F01");
        f01.policy.split_tender = true;
    })
    .await;
    let dir = tempfile::tempdir().expect("dir");
    // The terminal waits 1.5 s for each card, so a card part can be cancelled before it is read.
    let cards = CardSource::scripted(vec![Brand::Visa, Brand::Visa, Brand::Nanaco]).expect("terminal brands");
    let terminal = terminal(&counter, TERMINAL, cards, dir.path(), 1_500).await;
    let printer = printer();
    let devices = SystemDevices {
        terminal: TerminalAddress::Serial(terminal.path.clone()),
        printer: Some(printer.path.clone()),
        scanner: None,
    };
    let counterd = counterd_with(&counter, REGISTER, devices, &dir.path().join("counterd.json"));
    let browser = Browser::start().await;
    let base = counter.base.clone();
    browser.sign_in(&base, "demo-clerk-r0101", "/register").await;
    browser.click("#open-shift-button").await;

    // 300 + 450 + 300 = 1,050 yen.
    for code in ["JUMINHYO", "KOSEKI-ZENBU", "INKAN"] {
        browser.click(&format!(r#"#items [data-code="{code}"]"#)).await;
    }
    browser.text_until("#remaining", "the whole sale due", |t| t == "¥1,050").await;
    let remaining = |amount: &'static str| browser.text_until("#remaining", amount, move |t| t == amount);
    let part = |method: &'static str, state: &'static str| {
        browser.visible_owned(format!(r#"#parts tr[data-method="{method}"][data-state="{state}"]"#))
    };

    // 1. 400 in cash, 1,000 handed over.
    browser.fill("#part-amount", "400").await;
    browser.fill("#tendered", "1000").await;
    browser.click("[data-tender=cash]").await;
    part("cash", "completed").await;
    remaining("¥650").await;
    let cash_row = browser.text(r#"#parts tr[data-method="cash"]"#).await;
    assert!(cash_row.contains("¥400") && cash_row.contains("¥600"), "the change is shown: {cash_row}");

    // 2. 300 by card.
    browser.fill("#part-amount", "300").await;
    browser.click("[data-tender=card]").await;
    part("card", "completed").await;
    remaining("¥350").await;
    browser.keep_screenshot("15-register-split-two-parts").await;

    // 3. 150 by card, cancelled while the terminal waits for the card: the sale stays open.
    browser.fill("#part-amount", "150").await;
    browser.click("[data-tender=card]").await;
    browser.click("#cancel-payment").await;
    part("card", "cancelled").await;
    remaining("¥350").await;
    let sales: SaleList = counter.get("treasury", &format!("/v1/sales?register_id={REGISTER}")).await;
    let sale = sales.sales.into_iter().next().expect("the sale");
    assert_eq!((sale.state, sale.amount_due.get()), (pos_core::SaleState::Open, 350), "{sale:?}");
    let cancelled = sale.payments.iter().find(|p| p.state == pos_core::PaymentState::Cancelled).expect("cancelled");
    // The terminal read its card after the cancel and was refused; wait until that is over.
    e2e::counter_rig::ended(&counter, REGISTER, e2e::counter_rig::is_charge_of(&cancelled.id)).await;

    // 4. 200 by e-money.
    browser.fill("#part-amount", "200").await;
    browser.click("[data-tender=emoney]").await;
    part("emoney", "completed").await;
    remaining("¥150").await;

    // 5. The rest by QR: the customer pays the code (here a script, through the simulator).
    browser.script("document.getElementById('qr-brand').value = 'PAYPAY'", serde_json::json!([])).await;
    browser.click("[data-tender=qr]").await;
    let record = e2e::counter_rig::until("a code at the provider", || async {
        sim.payments().into_iter().find(|p| p.status.as_str() == "CREATED")
    })
    .await;
    assert_eq!(record.amount.get(), 150, "the code is for what remained");
    let code_id = record.code_id().expect("a code").to_string();
    let paid: serde_json::Value = demo::rig::http_client()
        .post(format!("{}/_sim/codes/{code_id}/pay", sim.base_url()))
        .send()
        .await
        .expect("control endpoint")
        .json()
        .await
        .expect("JSON");
    assert_eq!(paid["status"], "COMPLETED", "{paid}");

    // Paid: the receipt lists every part that took money.
    browser.visible("#done").await;
    let parts = browser
        .script(
            "return Array.from(document.querySelectorAll('#receipt-parts tr')).map(r => r.dataset.method + ' ' + r.children[1].textContent)",
            serde_json::json!([]),
        )
        .await;
    assert_eq!(parts, serde_json::json!(["cash ¥400", "card ¥300", "emoney ¥200", "qr ¥150"]), "{parts}");
    browser.keep_screenshot("16-register-split-paid").await;
    let sale: pos_core::api::SaleView = counter.get("treasury", &format!("/v1/sales/{}", sale.id)).await;
    assert_eq!(sale.state, pos_core::SaleState::Paid);
    let output = printer.output.clone();
    let printed = e2e::counter_rig::until("the receipt on paper", || {
        let documents = output.borrow().documents.clone();
        async move { documents.into_iter().next() }
    })
    .await;
    for line in ["現金", "お預り", "お釣り", "￥600", "クレジット", "電子マネー nanaco", "QRコード PayPay", "￥150"]
    {
        assert!(printed.contains(line), "the printed receipt shows {line}:\n{printed}");
    }

    // The terminal's end of day: VISA 1 × 300, nanaco under "other" 1 × 200 — the cancelled card
    // was refused and is in no total.
    browser.click("#next").await;
    browser.click("#end-of-day-button").await;
    browser.text_until("#eod-state", "done", |t| t == "日計が終わりました").await;
    assert_eq!(browser.text(r#"#eod-slots tr[data-slot="visa"] td:nth-child(2)"#).await, "1");
    assert_eq!(browser.text(r#"#eod-slots tr[data-slot="visa"] td:nth-child(3)"#).await, "¥300");
    assert_eq!(browser.text(r#"#eod-slots tr[data-slot="other"] td:nth-child(3)"#).await, "¥200");
    assert_eq!(browser.text(r#"#eod-slots tr[data-slot="jcb"] td:nth-child(2)"#).await, "0");
    assert_eq!(browser.text("#eod-total").await, "¥500");
    let receipts = browser.text("#eod-receipts").await;
    assert!(receipts.starts_with("0001 – "), "{receipts}");
    browser.keep_screenshot("17-register-end-of-day").await;
    let list: serde_json::Value = counter.get("treasury", &format!("/v1/registers/{REGISTER}/commands")).await;
    let result = list["commands"]
        .as_array()
        .and_then(|commands| commands.iter().find(|c| c["command"]["kind"] == "end_of_day"))
        .map(|c| c["result"]["output"]["totals"].clone())
        .expect("the end of day's result");
    assert_eq!(result["total"], 500, "the page shows counterd's result: {result}");

    browser.quit().await;
    counterd.abort();
    drop((terminal, printer));
    counter.stop().await;
}

/// A person pays the code the customer display shows, on the QR simulator's own page, as from a
/// phone: the display's QR code read as a camera would, the page opened in a second tab, 支払う
/// pressed; the register shows the payment approved. The next customer presses 支払わない and
/// the register says nothing was charged.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_customer_pays_the_displayed_code_on_the_simulators_page() {
    let (counter, sim) = Counter::start_with_qr_controls(|_| {}).await;
    let browser = Browser::start().await;
    let base = counter.base.clone();
    browser.sign_in(&base, "demo-clerk-r0101", "/register").await;
    browser.click("#open-shift-button").await;

    for (action, amount) in [("pay", "¥300"), ("decline", "¥450")] {
        let item = if action == "pay" { "JUMINHYO" } else { "KOSEKI-ZENBU" };
        browser.click(&format!(r#"#items [data-code="{item}"]"#)).await;
        browser.script("document.getElementById('qr-brand').value = 'PAYPAY'", serde_json::json!([])).await;
        browser.click("[data-tender=qr]").await;
        browser.visible("#qr-display").await;

        // The phone: it scans the customer display and opens what the code says.
        let register = browser.open_tab().await;
        browser.goto(&format!("{base}/v1/registers/{REGISTER}/display")).await;
        browser.visible("svg").await;
        let url = e2e::counter_rig::until("the display's code", || async {
            decode_qr(&browser.screenshot_png().await).into_iter().next()
        })
        .await;
        assert!(url.starts_with(&format!("{}/pay/04-", sim.base_url())), "the code opens the simulator: {url}");
        browser.goto(&url).await;
        assert_eq!(browser.text("#amount").await, amount);
        assert!(browser.text("#merchant").await.contains("見本市"));
        assert!(browser.text("#state").await.contains("お支払いをお待ちしています"));
        browser.keep_screenshot(&format!("18-qr-sim-customer-page-{action}")).await;
        browser.click(&format!("#{action}")).await;
        let expected = if action == "pay" {
            "お支払いが完了しました"
        } else {
            "お支払いは行われませんでした"
        };
        browser.text_until("#state", expected, |t| t.contains(expected)).await;
        browser.keep_screenshot(&format!("19-qr-sim-customer-page-{action}-done")).await;

        // Back at the register.
        browser.switch_to(&register).await;
        if action == "pay" {
            browser.text_until("#status", "approved", |t| t.contains("承認されました")).await;
            browser.visible("#done").await;
            browser.click("#next").await;
        } else {
            let status = browser.text_until("#status", "failed", |t| t.contains("失敗しました")).await;
            assert!(status.contains("nothing was charged"), "{status}");
        }
    }
    let sales: SaleList = counter.get("treasury", &format!("/v1/sales?register_id={REGISTER}")).await;
    let states: Vec<_> = sales.sales.iter().map(|s| (s.amount_total.get(), s.state)).collect();
    assert!(states.contains(&(300, pos_core::SaleState::Paid)), "{states:?}");
    assert!(states.contains(&(450, pos_core::SaleState::Open)), "declined: still to pay: {states:?}");

    browser.quit().await;
    counter.stop().await;
}
