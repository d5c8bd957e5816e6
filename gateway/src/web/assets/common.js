"use strict";
// Shared by every page: the words in Japanese and English, the API call with its session cookie
// and idempotency key, and yen formatting. Amounts are whole yen from the API; the pages only
// add and display them, and every figure that matters (change, over/short) comes from the gateway.

const I18N = {
  "nav.register": ["レジ", "Register"], "nav.treasury": ["会計課", "Treasury"],
  "nav.exceptions": ["例外", "Exceptions"], "nav.analytics": ["分析", "Analytics"], "nav.reports": ["月次報告", "Monthly report"],
  "nav.signout": ["サインアウト", "Sign out"],
  "signin.title": ["サインイン", "Sign in"], "signin.token": ["トークン", "Token"],
  "signin.submit": ["サインイン", "Sign in"],
  "forbidden": ["このページを表示する権限がありません", "You are not allowed to see this page"],
  "error": ["エラー", "Error"], "loading": ["読み込み中…", "Loading…"],
  "shift.open.title": ["シフト開始", "Open the shift"], "shift.float": ["釣銭準備金（円）", "Opening float (yen)"],
  "shift.open": ["シフトを開始", "Open shift"], "shift.close.title": ["シフト終了（現金の数え）", "Close the shift (cash count)"],
  "shift.close": ["シフトを終了", "Close shift"], "shift.expected": ["理論在高", "Expected"],
  "shift.counted": ["実査額", "Counted"], "shift.overshort": ["過不足", "Over/short"],
  "shift.closed": ["シフトは終了しました", "The shift is closed"], "shift.new": ["新しいシフト", "New shift"],
  "items": ["料金", "Fee items"], "basket": ["お会計", "Basket"], "total": ["合計", "Total"],
  "basket.empty": ["商品を選んでください", "Choose fee items"], "qty": ["数量", "Qty"],
  "amount": ["金額", "Amount"], "amount.enter": ["金額を入力（円）", "Enter the amount (yen)"],
  "ok": ["OK", "OK"], "cancel": ["取消", "Cancel"], "clear": ["クリア", "Clear"],
  "tender.cash": ["現金", "Cash"], "tender.card": ["クレジット", "Card"], "tender.emoney": ["電子マネー", "E-money"],
  "tender.qr": ["QR", "QR"], "tendered": ["お預かり（円）", "Tendered (yen)"], "change": ["お釣り", "Change"],
  "pay": ["支払う", "Pay"],
  "remaining": ["残り", "Remaining"], "parts": ["お支払いの内訳", "Payments"],
  "split.part": ["今回の支払額（円・空欄は残り全額）", "This part (yen; empty: all that remains)"],
  "eod": ["端末の日計", "Terminal end of day"], "eod.run": ["端末の日計を実行", "Run the terminal's end of day"],
  "eod.receipts": ["伝票番号", "Receipt numbers"], "eod.slot": ["カード", "Card"], "eod.count": ["件数", "Count"],
  "eod.turnover": ["金額", "Turnover"], "eod.queued": ["端末に送りました…", "Sent to the terminal…"],
  "eod.delivered": ["端末で処理中…", "The terminal is working…"], "eod.done": ["日計が終わりました", "End of day done"],
  "eod.failed": ["日計ができませんでした", "The end of day failed"], "eod.unknown": ["日計の結果が不明です", "End of day outcome unknown"],
  "slot.girocard": ["girocard", "girocard"], "slot.jcb": ["JCB", "JCB"], "slot.mastercard": ["Mastercard", "Mastercard"],
  "slot.american_express": ["American Express", "American Express"], "slot.visa": ["VISA", "VISA"],
  "slot.diners": ["Diners", "Diners"], "slot.other": ["その他（銀聯・電子マネー）", "Other (UnionPay, e-money)"],
  "status.awaiting_device": ["カードをお待ちしています", "Waiting for the card"],
  "status.authorizing": ["承認中…", "Authorizing…"], "status.created": ["処理中…", "Processing…"],
  "status.completed": ["承認されました", "Approved"], "status.approved": ["承認されました", "Approved"],
  "status.declined": ["お取扱いできません", "Declined"], "status.failed": ["失敗しました", "Failed"],
  "status.cancelled": ["取り消しました", "Cancelled"], "status.reversed": ["取り消しました（返金済み）", "Reversed"],
  "status.in_doubt": ["確認中 — 再試行しないでください", "Checking — do not retry"],
  "status.paid_cash": ["お支払い完了", "Paid"],
  "receipt": ["領収書", "Receipt"], "print": ["領収書を印刷", "Print receipt"],
  "reprint": ["再発行", "Reprint"], "next": ["次のお客様", "Next customer"],
  "printed": ["印刷を依頼しました", "Sent to the printer"],
  "print.queued": ["領収書を印刷します…", "Printing the receipt…"], "print.delivered": ["領収書を印刷中…", "Printing the receipt…"],
  "print.done": ["領収書を印刷しました", "Receipt printed"], "print.failed": ["領収書を印刷できません", "The receipt could not be printed"],
  "print.unknown": ["印刷の結果が不明です", "Printing outcome unknown"], "sales": ["このシフトの取引", "Sales of this shift"],
  "void": ["取消（無効）", "Void"], "void.reason": ["取消の理由", "Reason for the void"],
  "voided": ["取消済み", "Voided"], "paid": ["支払済み", "Paid"], "open": ["未払い", "Open"],
  "refund": ["返金", "Refund"], "refund.code": ["承認コード（責任者から）", "Approval code (from the supervisor)"],
  "refund.request": ["責任者に承認を依頼", "Ask the supervisor to approve"], "refund.with.code": ["コードで返金", "Refund with the code"],
  "refund.payment": ["支払番号", "Payment no."], "refund.waiting": ["承認待ち…", "Waiting for approval…"],
  "refund.rejected": ["承認されませんでした", "Not approved"], "refund.expired": ["承認の期限が切れました", "The request expired"],
  "nav.approvals": ["承認", "Approvals"], "approvals.title": ["返金の承認", "Refund approvals"],
  "approvals.pending": ["承認待ちの返金", "Refunds waiting for approval"], "approvals.none": ["承認待ちの返金はありません", "No refund is waiting"],
  "requested.by": ["依頼者・日時", "Requested by, when"], "payment": ["支払", "Payment"],
  "approve": ["承認", "Approve"], "reject": ["却下", "Reject"], "reject.reason": ["却下の理由", "Reason for rejecting"],
  "approval.approved": ["承認済み", "Approved"], "approval.rejected": ["却下", "Rejected"], "approval.expired": ["期限切れ", "Expired"],
  "code.title": ["ワンタイム承認コードを発行", "Issue a one-time approval code"],
  "code.help": ["レジの返金欄に表示された支払番号と返金額を入力してください。コードは一度だけ、5分間有効です。", "Enter the payment no. and amount shown in the register's refund box. The code works once, for 5 minutes."],
  "code.issue": ["コードを発行", "Issue the code"], "code.valid": ["（{0} まで有効）", "(valid until {0})"],
  "refund.amount": ["返金額（円）", "Refund amount (yen)"], "refunded": ["返金しました", "Refunded"],
  "refund.reason": ["返金の理由", "Reason for the refund"],
  "receipt.no": ["領収書番号", "Receipt no."], "cancel.payment": ["支払いを中止", "Cancel payment"],
  "denomination": ["金種", "Denomination"], "pieces": ["枚数", "Pieces"],
  "register.choose": ["レジを選んでください", "Choose a register"],
  "treasury.title": ["日次状況", "The day's board"], "date": ["営業日", "Business date"],
  "facility": ["施設", "Facility"], "state": ["状況", "Status"], "shifts.open": ["未終了シフト", "Open shifts"],
  "sales.count": ["件数", "Sales"], "taken": ["収納額", "Taken"], "cashless": ["キャッシュレス", "Cashless"],
  "exceptions.open": ["未解決の例外", "Open exceptions"], "reconcile": ["照合を実行", "Reconcile"],
  "reconciled": ["照合済み", "Reconciled"], "report": ["日計表", "Daily report"], "close.day": ["日締め", "Close the day"],
  "closed": ["締め済み", "Closed"], "download.csv": ["CSVダウンロード", "Download CSV"], "download.tidy_csv": ["分析用データ（CSV）", "Analysts' data (CSV)"], "download.tidy_parquet": ["分析用データ（Parquet）", "Analysts' data (Parquet)"],
  "accounting.export": ["会計システム用データ", "Accounting export"], "print.page": ["印刷", "Print"],
  "exceptions": ["例外一覧", "Exceptions"], "kind": ["種類", "Kind"], "records": ["対象", "Records"],
  "at.stake": ["金額", "At stake"], "suggested": ["推奨対応", "Suggested action"],
  "resolve": ["解決", "Resolve"], "action": ["対応内容", "Action taken"], "note": ["メモ", "Note"],
  "resolved.by": ["解決者・日時", "Resolved by, when"], "filter": ["絞り込み", "Filter"], "all": ["すべて", "All"],
  "status.idle": ["取引なし", "No activity"], "status.shifts_open": ["シフト未終了", "Shifts open"],
  "status.not_reconciled": ["未照合", "Not reconciled"], "status.exceptions": ["例外あり", "Exceptions"],
  "status.reconciled": ["照合済み", "Reconciled"], "status.closed": ["締め済み", "Closed"],
  "state.open": ["未解決", "Open"], "state.resolved": ["解決済み", "Resolved"], "state.cleared": ["解消", "Cleared"],
  "files": ["精算ファイル", "Settlement files"], "upload": ["取り込む", "Load"],
  "city.list": ["市全体の例外（入金・入出金明細）", "The city's list (payouts, bank lines)"],
  "city": ["市全体", "City"], "level": ["区分", "List"], "level.city": ["市全体", "City's list"],
  "level.facility": ["施設", "Facilities"], "bank.lines": ["入出金明細", "Bank statement"],
  "bank.unmatched": ["照合先のない明細", "lines nothing explains"], "detail": ["内容", "What was found"],
  "analytics.title": ["いつ・何を・どの方法で", "When, what, which method"],
  "from": ["開始日", "From"], "to": ["終了日", "To"], "operator": ["指定管理者", "Operator"],
  "method": ["支払方法", "Method"], "granularity": ["単位", "Granularity"], "day": ["日", "Day"],
  "month": ["月", "Month"], "fiscal_year": ["年度", "Fiscal year"], "show": ["表示", "Show"],
  "chart.cashless-share": ["キャッシュレス比率（目標40%）", "Cashless share (target 40 %)"],
  "chart.by-brand": ["ブランド別", "By brand"], "chart.by-method": ["支払方法別", "By method"],
  "chart.heatmap": ["曜日×時間帯の件数", "Payments by weekday × hour"],
  "chart.top-fee-items": ["料金項目の上位（支払方法別）", "Top fee items by method"],
  "chart.fees-by-brand": ["ブランド別の手数料", "What cashless costs in fees, per brand"],
  "chart.facilities": ["施設の比較", "Facilities compared"],
};

function lang() { return localStorage.getItem("pos.lang") === "en" ? "en" : "ja"; }

function t(key, ...args) {
  const entry = I18N[key];
  let text = entry ? entry[lang() === "en" ? 1 : 0] : key;
  args.forEach((arg, i) => { text = text.replace("{" + i + "}", arg); });
  return text;
}

function applyI18n(root) {
  (root || document).querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.documentElement.lang = lang();
  document.querySelectorAll("[data-lang]").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.lang === lang())));
}

function setLang(value) {
  localStorage.setItem("pos.lang", value);
  applyI18n();
  document.dispatchEvent(new Event("langchange"));
}

function yen(amount) {
  const n = Number(amount);
  return (n < 0 ? "−" : "") + "¥" + Math.abs(n).toLocaleString("ja-JP");
}

function signedYen(amount) {
  const n = Number(amount);
  return (n > 0 ? "+" : n < 0 ? "−" : "±") + Math.abs(n).toLocaleString("ja-JP");
}

function newKey() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

class ApiError extends Error {
  constructor(status, code, message, field) { super(message); this.status = status; this.code = code; this.field = field; }
}

// Calls the gateway's API with the session cookie. A POST carries its idempotency key: a page
// keeps the key of an action until the action's answer is in, so a double click or a reload
// repeats the same request, which the gateway answers once.
async function api(method, path, body, key, extraHeaders) {
  const headers = Object.assign({ "Accept": "application/json" }, extraHeaders || {});
  if (method !== "GET") {
    headers["X-Pos-Csrf"] = "1";
    headers["Content-Type"] = "application/json";
    headers["Idempotency-Key"] = key || newKey();
  }
  const response = await fetch(path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? (method === "GET" ? undefined : "{}") : JSON.stringify(body),
  });
  if (response.status === 401) {
    location.href = "/sign-in?next=" + encodeURIComponent(location.pathname + location.search);
    throw new ApiError(401, "unauthenticated", t("signin.title"));
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
  if (!response.ok) {
    const detail = (data && data.error) || {};
    throw new ApiError(response.status, detail.code || "http_" + response.status, detail.message || response.statusText, detail.field);
  }
  return data;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  Object.entries(attrs || {}).forEach(([k, v]) => {
    if (v === undefined || v === null || v === false) return;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v === true ? "" : v);
  });
  children.flat().forEach((c) => { if (c !== null && c !== undefined) node.append(c instanceof Node ? c : document.createTextNode(String(c))); });
  return node;
}

function showError(target, error) {
  const box = typeof target === "string" ? document.getElementById(target) : target;
  if (!box) return;
  box.textContent = error ? t("error") + ": " + error.message : "";
}

// Runs an action once at a time: the button stays disabled until the answer is in.
async function once(button, action) {
  if (button.disabled) return;
  button.disabled = true;
  try { await action(); } finally { button.disabled = false; }
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-lang]").forEach((b) => b.addEventListener("click", () => setLang(b.dataset.lang)));
  const out = document.getElementById("sign-out");
  if (out) out.addEventListener("click", async () => { try { await api("POST", "/v1/session/sign-out"); } finally { location.href = "/sign-in"; } });
  applyI18n();
});
