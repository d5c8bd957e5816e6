"use strict";
// The register: open a shift, ring up fee items, take payment (in parts, by any mix of methods,
// where the facility allows split tender), follow it to its outcome, print, void, run the
// terminal's end of day, close the shift with the count. What is in progress (the basket, the
// sale, the payment and their idempotency keys) is kept in sessionStorage, so a reload picks up
// where the clerk was and repeats nothing. Every figure shown (what remains, change, the
// terminal's totals) comes from the gateway.

const DENOMINATIONS = [10000, 5000, 2000, 1000, 500, 100, 50, 10, 5, 1];
const FINAL = ["completed", "declined", "failed", "cancelled", "reversed", "voided", "refunded", "partially_refunded"];
const POLL_MS = 700;

const page = { me: null, facility: null, register: null, shift: null, state: null, polling: false };

function storageKey() { return "pos.register." + page.register; }
function load() {
  try { return JSON.parse(sessionStorage.getItem(storageKey())) || fresh(); } catch (_) { return fresh(); }
}
function fresh() { return { basket: [], saleKey: null, saleId: null, payKey: null, payBody: null, paymentId: null, finished: false, due: null }; }
function save() { sessionStorage.setItem(storageKey(), JSON.stringify(page.state)); }

function itemName(item) { return lang() === "en" ? item.name_en : item.name_ja; }
function itemOf(code) { return page.facility.fee_items.find((i) => i.code === code); }
function basketTotal() { return page.state.basket.reduce((sum, line) => sum + line.quantity * line.unit, 0); }

function show(id, visible) { document.getElementById(id).hidden = !visible; }

async function start() {
  try {
    page.me = await api("GET", "/v1/me");
    const params = new URLSearchParams(location.search);
    page.register = params.get("register") || page.me.register_id;
    const facilities = (await api("GET", "/v1/facilities")).facilities;
    if (!page.register) return chooseRegister(facilities);
    page.facility = facilities.find((f) => f.registers.includes(page.register));
    if (!page.facility) throw new ApiError(403, "forbidden", t("forbidden"));
    document.getElementById("facility-name").textContent = lang() === "en" ? page.facility.name_en : page.facility.name_ja;
    document.getElementById("register-id").textContent = page.register;
    page.state = load();
    await refreshShift();
  } catch (error) { showError("error", error); }
}

function chooseRegister(facilities) {
  const list = document.getElementById("choose-list");
  list.replaceChildren(...facilities.flatMap((f) => f.registers.map((r) =>
    el("a", { class: "button", href: "/register?register=" + encodeURIComponent(r) }, (lang() === "en" ? f.name_en : f.name_ja) + " · " + r))));
  show("choose", true);
}

async function refreshShift() {
  const open = (await api("GET", "/v1/shifts?register_id=" + encodeURIComponent(page.register) + "&state=open")).shifts;
  page.shift = open[0] || null;
  show("end-of-day", true);
  show("open-shift", !page.shift);
  show("selling", !!page.shift);
  show("sales", !!page.shift);
  show("close-shift", !!page.shift);
  if (page.shift) {
    renderItems();
    renderBasket();
    await refreshSales();
    followRefundRequest();
    if (page.state.saleId && !page.state.finished) renderSale(await api("GET", "/v1/sales/" + page.state.saleId));
    if (page.state.paymentId && !page.state.finished) follow();
    else if (page.state.payKey && !page.state.paymentId) resumePayment();
  }
}

async function openShift(button) {
  await once(button, async () => {
    showError("error", null);
    const amount = Number(document.getElementById("float").value);
    if (!Number.isInteger(amount) || amount < 0) { showError("error", new Error(t("shift.float"))); return; }
    let key = sessionStorage.getItem(storageKey() + ".open");
    if (!key) { key = newKey(); sessionStorage.setItem(storageKey() + ".open", key); }
    try {
      await api("POST", "/v1/shifts", { register_id: page.register, opening_float: amount }, key);
      sessionStorage.removeItem(storageKey() + ".open");
      show("shift-result", false);
      await refreshShift();
    } catch (error) { showError("error", error); }
  });
}

function renderItems() {
  const grid = document.getElementById("items");
  grid.replaceChildren(...page.facility.fee_items.map((item) => el("button", {
    class: "item", "data-code": item.code, type: "button", onclick: () => addItem(item),
    disabled: !!page.state.saleId,
  }, el("span", { text: itemName(item) }), el("small", { text: item.unit_price !== undefined ? yen(item.unit_price) : t("amount.enter") }))));
}

function addItem(item) {
  if (page.state.saleId) return;
  if (item.unit_price !== undefined) {
    const line = page.state.basket.find((l) => l.code === item.code && !l.open);
    if (line) line.quantity += 1; else page.state.basket.push({ code: item.code, quantity: 1, unit: item.unit_price, open: false });
    save(); renderBasket();
    return;
  }
  const box = document.getElementById("open-price");
  box.hidden = false;
  box.dataset.code = item.code;
  document.getElementById("open-price-name").textContent = itemName(item) + " (≤ " + yen(item.open_price_max) + ")";
  const input = document.getElementById("open-price-amount");
  input.value = ""; input.max = item.open_price_max; input.focus();
}

function confirmOpenPrice() {
  const box = document.getElementById("open-price");
  const item = itemOf(box.dataset.code);
  const amount = Number(document.getElementById("open-price-amount").value);
  if (!Number.isInteger(amount) || amount <= 0 || amount > item.open_price_max) { showError("error", new Error(t("amount.enter"))); return; }
  page.state.basket.push({ code: item.code, quantity: 1, unit: amount, open: true });
  box.hidden = true; showError("error", null); save(); renderBasket();
}

function changeQuantity(index, delta) {
  if (page.state.saleId) return;
  const line = page.state.basket[index];
  line.quantity += delta;
  if (line.quantity <= 0) page.state.basket.splice(index, 1);
  save(); renderBasket();
}

function renderBasket() {
  const body = document.getElementById("basket-lines");
  const locked = !!page.state.saleId;
  body.replaceChildren(...page.state.basket.map((line, index) => {
    const item = itemOf(line.code);
    return el("tr", { "data-code": line.code },
      el("td", { text: item ? itemName(item) : line.code }),
      el("td", { class: "num" },
        el("button", { type: "button", "aria-label": "−", onclick: () => changeQuantity(index, -1), disabled: locked || line.open }, "−"),
        " ", el("span", { class: "qty", text: String(line.quantity) }), " ",
        el("button", { type: "button", "aria-label": "+", onclick: () => changeQuantity(index, 1), disabled: locked || line.open }, "+")),
      el("td", { class: "num", text: yen(line.quantity * line.unit) }));
  }));
  document.getElementById("basket-total").textContent = yen(basketTotal());
  document.getElementById("basket-empty").hidden = page.state.basket.length > 0;
  const hasItems = page.state.basket.length > 0;
  const busy = page.busy || (!!page.state.paymentId && !page.state.finished);
  document.querySelectorAll("[data-tender]").forEach((b) => { b.disabled = !hasItems || busy || page.state.finished; });
  document.getElementById("clear").disabled = locked;
  const brands = document.getElementById("qr-brand");
  if (!brands.options.length) {
    page.facility.qr_brands.forEach((b) => brands.append(el("option", { value: b, text: b })));
  }
  document.querySelector("[data-tender=qr]").hidden = !brands.options.length;
  show("split", page.facility.split_tender && !page.state.finished);
  document.getElementById("remaining").textContent = yen(dueNow());
  document.getElementById("remaining").dataset.amount = String(dueNow());
  renderItems();
}

// What is still to pay: the sale's amount due once it exists, else the basket.
function dueNow() {
  return page.state.saleId && page.state.due !== null && page.state.due !== undefined ? page.state.due : basketTotal();
}

function paymentLabel(p) {
  const brand = p.brand && p.brand !== "CASH" ? " " + p.brand : "";
  return t("tender." + p.method) + brand;
}

// The payments of a sale, one line each: how, how much, how it ended (and change for cash).
function partRows(payments) {
  return payments.map((p) => el("tr", { "data-payment": p.id, "data-method": p.method, "data-state": p.state },
    el("td", { text: paymentLabel(p) }),
    el("td", { class: "num", text: yen(p.amount) }),
    el("td", { text: p.method === "cash" && p.change !== null && p.change !== undefined
      ? t("tendered") + " " + yen(p.tendered) + " / " + t("change") + " " + yen(p.change)
      : t("status." + (p.method === "cash" && p.state === "completed" ? "paid_cash" : p.state)) })));
}

// After each part of a split payment: what remains, and every part so far.
function renderSale(sale) {
  page.state.due = sale.amount_due; save();
  document.getElementById("parts").replaceChildren(...partRows(sale.payments));
  document.getElementById("parts-table").hidden = sale.payments.length === 0;
  renderBasket();
}

function clearBasket() {
  if (page.state.saleId) return;
  page.state = fresh(); save(); renderBasket(); setStatus(null);
}

function lines() {
  return page.state.basket.map((l) => l.open ? { fee_item: l.code, quantity: l.quantity, amount: l.unit } : { fee_item: l.code, quantity: l.quantity });
}

async function tender(method) {
  showError("error", null);
  // The change shown belongs to the last part; a new part starts without it.
  document.getElementById("change").textContent = "";
  const body = { method };
  const partText = page.facility.split_tender ? document.getElementById("part-amount").value : "";
  if (partText) {
    const part = Number(partText);
    if (!Number.isInteger(part) || part <= 0 || part > dueNow()) { showError("error", new Error(t("split.part"))); return; }
    if (part !== dueNow()) body.amount = part;
  }
  if (method === "cash") {
    const tendered = Number(document.getElementById("tendered").value || body.amount || dueNow());
    if (!Number.isInteger(tendered) || tendered <= 0) { showError("error", new Error(t("tendered"))); return; }
    body.tendered = tendered;
  }
  if (method === "qr") body.brand = document.getElementById("qr-brand").value;
  if (!page.state.saleKey) { page.state.saleKey = newKey(); save(); }
  if (!page.state.payKey) { page.state.payKey = newKey(); page.state.payBody = body; save(); }
  await resumePayment();
}

// Sends (or sends again, with the same keys) the sale and its payment.
async function resumePayment() {
  try {
    if (!page.state.saleId) {
      const sale = await api("POST", "/v1/sales", { register_id: page.register, lines: lines() }, page.state.saleKey);
      page.state.saleId = sale.id; save(); renderBasket();
    }
    const result = await api("POST", "/v1/sales/" + page.state.saleId + "/payments", page.state.payBody, page.state.payKey);
    page.state.paymentId = result.payment.id; save();
    renderBasket();
    follow();
  } catch (error) {
    showError("error", error);
    // Refused outright (nothing was journaled): the clerk may choose again with a new request.
    if (error.status >= 400 && error.status < 500 && error.status !== 409) { page.state.payKey = null; page.state.payBody = null; save(); renderBasket(); }
  }
}

function setStatus(state, note) {
  const box = document.getElementById("status");
  if (!state) { box.hidden = true; return; }
  box.hidden = false;
  box.dataset.state = state;
  box.className = "status " + ({ completed: "ok", paid_cash: "ok", declined: "bad", failed: "bad", cancelled: "bad", reversed: "bad", in_doubt: "doubt" }[state] || "waiting");
  box.textContent = t("status." + state) + (note && state !== "completed" ? " — " + note : "");
}

async function follow() {
  if (page.polling) return;
  page.polling = true;
  try {
    for (;;) {
      const payment = await api("GET", "/v1/payments/" + page.state.paymentId);
      setStatus(payment.state === "completed" && payment.method === "cash" ? "paid_cash" : payment.state, payment.note);
      document.getElementById("cancel-payment").hidden = payment.state !== "awaiting_device" && !(payment.method === "qr" && payment.state === "authorizing");
      const display = document.getElementById("qr-display");
      if (payment.method === "qr" && !FINAL.includes(payment.state)) {
        if (display.hidden) { display.src = "/v1/registers/" + encodeURIComponent(page.register) + "/display"; display.hidden = false; }
      } else { display.hidden = true; display.removeAttribute("src"); }
      if (payment.state === "completed") {
        if (payment.change !== undefined && payment.change !== null) document.getElementById("change").textContent = t("change") + " " + yen(payment.change);
        const sale = await api("GET", "/v1/sales/" + page.state.saleId);
        if (sale.state === "paid") { finish(sale); return; }
        // Split tender: this part is paid, the rest is still due.
        page.state.payKey = null; page.state.payBody = null; page.state.paymentId = null; save();
        document.getElementById("part-amount").value = "";
        document.getElementById("tendered").value = "";
        renderSale(sale);
        return;
      }
      if (FINAL.includes(payment.state)) {
        // Declined, cancelled, failed: nothing was taken; the sale stays open for another try.
        page.state.payKey = null; page.state.payBody = null; page.state.paymentId = null; save();
        renderSale(await api("GET", "/v1/sales/" + page.state.saleId));
        return;
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } catch (error) { showError("error", error); } finally { page.polling = false; }
}

function finish(sale) {
  page.state.finished = true; page.state.receipt = sale.receipt; save();
  document.getElementById("done").hidden = false;
  document.getElementById("receipt-no").textContent = sale.receipt ? sale.receipt.number : "";
  // The receipt lists every part that took money, as the printed 領収書 does.
  document.getElementById("receipt-parts").replaceChildren(...partRows(sale.payments.filter((p) => !["declined", "failed", "cancelled"].includes(p.state))));
  document.getElementById("done").dataset.sale = sale.id;
  renderBasket();
  refreshSales();
  followPrint(sale.id);
}

// The gateway queues the receipt when the sale is paid; this shows how the printing went.
async function followPrint(saleId) {
  const box = document.getElementById("print-result");
  for (let i = 0; i < 120 && page.state.finished; i++) {
    try {
      const list = await api("GET", "/v1/registers/" + encodeURIComponent(page.register) + "/commands");
      const print = list.commands.find((c) => c.command.kind === "print_receipt" && c.command.sale_id === saleId && !c.command.reprint);
      if (print) {
        box.dataset.state = print.state;
        box.textContent = t("print." + print.state) + (print.result && print.result.detail && print.state !== "done" ? " — " + print.result.detail : "");
        if (["done", "failed", "unknown"].includes(print.state)) return;
      }
    } catch (error) { showError("error", error); return; }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

async function cancelPayment(button) {
  await once(button, async () => {
    try { await api("POST", "/v1/payments/" + page.state.paymentId + "/cancel", {}, "cancel-" + page.state.paymentId); }
    catch (error) { showError("error", error); }
  });
}

async function printReceipt(button, saleId, reprint) {
  await once(button, async () => {
    try {
      await api("POST", "/v1/registers/" + encodeURIComponent(page.register) + "/commands",
        { kind: "print_receipt", sale_id: saleId, reprint }, (reprint ? "reprint-" : "print-") + saleId + (reprint ? "-" + newKey() : ""));
      document.getElementById("reprint-result").textContent = t("printed") + (reprint ? " (" + t("reprint") + ")" : "");
    } catch (error) { showError("error", error); }
  });
}

function nextCustomer() {
  page.state = fresh(); save();
  document.getElementById("done").hidden = true;
  document.getElementById("parts").replaceChildren();
  document.getElementById("parts-table").hidden = true;
  document.getElementById("part-amount").value = "";
  document.getElementById("change").textContent = "";
  document.getElementById("print-result").textContent = "";
  document.getElementById("reprint-result").textContent = "";
  document.getElementById("tendered").value = "";
  setStatus(null); renderBasket();
}

async function refreshSales() {
  const sales = (await api("GET", "/v1/sales?shift_id=" + encodeURIComponent(page.shift.id))).sales;
  const body = document.getElementById("sales-lines");
  body.replaceChildren(...sales.filter((s) => s.state !== "open").map((sale) => el("tr", { "data-sale": sale.id, "data-state": sale.state },
    el("td", { text: sale.receipt ? String(sale.receipt.number) : "—" }),
    el("td", { text: sale.lines.map((l) => (lang() === "en" ? (itemOf(l.fee_item) || {}).name_en || l.name_ja : l.name_ja) + " ×" + l.quantity).join(", ") }),
    el("td", { text: sale.payments.filter((p) => !["declined", "failed", "cancelled"].includes(p.state)).map((p) => t("tender." + p.method)).join(", ") }),
    el("td", { class: "num", text: yen(sale.amount_total) }),
    el("td", { "data-i18n": sale.state === "voided" ? "voided" : "paid", text: t(sale.state === "voided" ? "voided" : "paid") }),
    el("td", {}, sale.state === "paid" ? [
      el("button", { type: "button", "data-action": "reprint", onclick: (e) => printReceipt(e.currentTarget, sale.id, true) }, t("reprint")),
      " ",
      el("button", { type: "button", class: "danger", "data-action": "void", onclick: (e) => voidSale(e.currentTarget, sale) }, t("void")),
      " ",
      refundable(sale) ? el("button", { type: "button", "data-action": "refund", onclick: () => showRefund(sale) }, t("refund")) : "",
    ] : []))));
}

// A cashless payment with money left to refund.
function refundable(sale) {
  return sale.payments.find((p) => p.method !== "cash" && (p.state === "completed" || p.state === "partially_refunded") && p.amount > p.refunded);
}

// A refund goes back the way it was paid, under the brand's rules, with a supervisor's approval,
// given from the supervisor's own session: the clerk asks (the supervisor's approvals page lists
// it) and the page follows the request, or the clerk types the one-time code the supervisor
// issued for this payment and amount. No token is ever typed here.
function showRefund(sale) {
  const payment = refundable(sale);
  const box = document.getElementById("refund");
  box.hidden = false;
  box.dataset.payment = payment.id;
  box.dataset.key = newKey();
  document.getElementById("refund-payment").textContent = payment.id;
  document.getElementById("refund-amount").value = String(payment.amount - payment.refunded);
  document.getElementById("refund-reason").value = "";
  document.getElementById("refund-code").value = "";
  document.getElementById("refund-result").textContent = "";
  document.getElementById("refund-amount").focus();
}

function refundBody() {
  return {
    amount: Number(document.getElementById("refund-amount").value),
    reason: document.getElementById("refund-reason").value,
  };
}

async function sendRefund(button) {
  await once(button, async () => {
    showError("error", null);
    const box = document.getElementById("refund");
    const body = Object.assign(refundBody(), { method: "original", approval_code: document.getElementById("refund-code").value.trim() });
    try {
      const refund = await api("POST", "/v1/payments/" + box.dataset.payment + "/refunds", body, box.dataset.key);
      document.getElementById("refund-code").value = "";
      document.getElementById("refund-result").textContent = t("refunded") + " (" + refund.state + ")";
      await refreshSales();
    } catch (error) {
      // A refused code is spent for this key: the next try is a new request.
      box.dataset.key = newKey();
      showError("error", error);
    }
  });
}

async function requestRefund(button) {
  await once(button, async () => {
    showError("error", null);
    const box = document.getElementById("refund");
    try {
      const request = await api("POST", "/v1/payments/" + box.dataset.payment + "/refund-requests", refundBody(), box.dataset.key);
      // Kept in the tab, so a reload (or signing in again) goes on following it.
      sessionStorage.setItem(storageKey() + ".refundRequest", request.id);
      followRefundRequest();
    } catch (error) { showError("error", error); }
  });
}

// Follows the clerk's pending refund request until the supervisor decides.
async function followRefundRequest() {
  const id = sessionStorage.getItem(storageKey() + ".refundRequest");
  if (!id) return;
  const result = document.getElementById("refund-result");
  document.getElementById("refund").hidden = false;
  try {
    const request = await api("GET", "/v1/refund-requests/" + id);
    if (request.state === "pending") {
      result.textContent = t("refund.waiting");
      setTimeout(followRefundRequest, 1500);
      return;
    }
    sessionStorage.removeItem(storageKey() + ".refundRequest");
    if (request.state === "approved" && request.refund) {
      result.textContent = t("refunded") + " (" + request.refund.state + ", " + request.approver + ")";
      await refreshSales();
    } else {
      result.textContent = t("refund." + request.state) + (request.decision_note ? ": " + request.decision_note : "");
    }
  } catch (error) { showError("error", error); }
}

async function voidSale(button, sale) {
  const reason = window.prompt(t("void.reason"), "");
  if (!reason) return;
  await once(button, async () => {
    const keyName = storageKey() + ".void." + sale.id;
    let key = sessionStorage.getItem(keyName);
    if (!key) { key = newKey(); sessionStorage.setItem(keyName, key); }
    try { await api("POST", "/v1/sales/" + sale.id + "/void", { reason }, key); await refreshSales(); }
    catch (error) { showError("error", error); }
  });
}

// The terminal's end of day goes to the counter as a command; its totals (ZVT's BMP 60, as
// counterd's ECR driver read them) come back in the command's result.
async function endOfDay(button) {
  await once(button, async () => {
    showError("error", null);
    const state = document.getElementById("eod-state");
    const keyName = storageKey() + ".eod";
    let key = sessionStorage.getItem(keyName);
    if (!key) { key = newKey(); sessionStorage.setItem(keyName, key); }
    try {
      const command = await api("POST", "/v1/registers/" + encodeURIComponent(page.register) + "/commands", { kind: "end_of_day" }, key);
      sessionStorage.removeItem(keyName);
      for (let i = 0; i < 600; i++) {
        const list = await api("GET", "/v1/registers/" + encodeURIComponent(page.register) + "/commands");
        const current = list.commands.find((c) => c.id === command.id) || command;
        state.dataset.state = current.state;
        state.textContent = t("eod." + current.state) + (current.result && current.state !== "done" ? " — " + current.result.detail : "");
        if (["done", "failed", "unknown"].includes(current.state)) {
          const output = current.result && current.result.output;
          if (output && output.kind === "end_of_day") renderTotals(output.totals);
          return;
        }
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    } catch (error) { showError("error", error); }
  });
}

function renderTotals(totals) {
  const pad = (n) => String(n).padStart(4, "0");
  document.getElementById("eod-receipts").textContent = pad(totals.receipt_first) + " – " + pad(totals.receipt_last);
  document.getElementById("eod-slots").replaceChildren(...totals.slots.map((s) => el("tr", { "data-slot": s.slot },
    el("td", { "data-i18n": "slot." + s.slot, text: t("slot." + s.slot) }),
    el("td", { class: "num", text: String(s.count) }),
    el("td", { class: "num", text: yen(s.turnover) }))));
  document.getElementById("eod-total").textContent = yen(totals.total);
  document.getElementById("eod-total").dataset.amount = String(totals.total);
  show("eod-result", true);
}

function renderCount() {
  const body = document.getElementById("count-lines");
  if (body.children.length) return;
  body.replaceChildren(...DENOMINATIONS.map((d) => el("tr", {},
    el("td", { class: "num", text: yen(d) }),
    el("td", {}, el("input", { type: "number", min: "0", step: "1", inputmode: "numeric", "data-denomination": String(d), value: "0", "aria-label": yen(d) })))));
}

async function closeShift(button) {
  await once(button, async () => {
    showError("error", null);
    const counted = {};
    document.querySelectorAll("[data-denomination]").forEach((input) => {
      const n = Number(input.value || 0);
      if (n > 0) counted[input.dataset.denomination] = n;
    });
    const keyName = storageKey() + ".close." + page.shift.id;
    let key = sessionStorage.getItem(keyName);
    if (!key) { key = newKey(); sessionStorage.setItem(keyName, key); }
    try {
      const shift = await api("POST", "/v1/shifts/" + page.shift.id + "/close", { counted }, key);
      const cash = shift.cash;
      document.getElementById("expected").textContent = yen(cash.expected);
      document.getElementById("counted").textContent = yen(cash.counted);
      document.getElementById("over-short").textContent = signedYen(cash.over_short);
      show("shift-result", true);
      show("selling", false); show("sales", false); show("close-shift", false);
      sessionStorage.removeItem(storageKey());
    } catch (error) { showError("error", error); }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("open-shift-button").addEventListener("click", (e) => openShift(e.currentTarget));
  document.getElementById("open-price-ok").addEventListener("click", confirmOpenPrice);
  document.getElementById("open-price-cancel").addEventListener("click", () => { document.getElementById("open-price").hidden = true; });
  document.getElementById("clear").addEventListener("click", clearBasket);
  document.querySelectorAll("[data-tender]").forEach((b) => b.addEventListener("click", async () => {
    if (page.busy) return;
    page.busy = true;
    renderBasket();
    try { await tender(b.dataset.tender); } finally { page.busy = false; renderBasket(); }
  }));
  document.getElementById("cancel-payment").addEventListener("click", (e) => cancelPayment(e.currentTarget));
  document.getElementById("reprint").addEventListener("click", (e) => printReceipt(e.currentTarget, document.getElementById("done").dataset.sale, true));
  document.getElementById("next").addEventListener("click", nextCustomer);
  document.getElementById("close-shift-button").addEventListener("click", (e) => closeShift(e.currentTarget));
  document.getElementById("end-of-day-button").addEventListener("click", (e) => endOfDay(e.currentTarget));
  document.getElementById("refund-send").addEventListener("click", (e) => sendRefund(e.currentTarget));
  document.getElementById("refund-request").addEventListener("click", (e) => requestRefund(e.currentTarget));
  document.getElementById("refund-cancel").addEventListener("click", () => { document.getElementById("refund").hidden = true; });
  document.getElementById("new-shift").addEventListener("click", () => { show("shift-result", false); refreshShift(); });
  document.addEventListener("langchange", () => { if (page.facility) { renderBasket(); refreshSales(); } });
  renderCount();
  start();
});
