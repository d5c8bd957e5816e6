"use strict";
// Treasury's pages: the day's board (reconcile, load files, export), a facility's daily report
// (print, CSV, close the day) and the exceptions with their resolution.

function tokyoToday() { return new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Tokyo" }).format(new Date()); }
function query(name) { return new URLSearchParams(location.search).get(name); }
function facilityName(row) { return lang() === "en" ? row.name_en : row.name_ja; }
// An exception's words in the page's language (the reconciler writes both).
function words(x) {
  const en = lang() === "en";
  return {
    name: en ? x.name_en : x.name_ja,
    records: (en && x.records_en.length ? x.records_en : x.records).join(en ? "; " : "、"),
    detail: en ? x.detail_en : x.detail,
    action: en ? x.suggested_action_en : x.suggested_action,
  };
}

async function loadBoard() {
  showError("error", null);
  const date = document.getElementById("date").value;
  history.replaceState(null, "", "/treasury?date=" + date);
  document.getElementById("export").href = "/v1/treasury/days/" + date + "/accounting-export";
  try {
    const board = await api("GET", "/v1/treasury/days/" + date);
    document.getElementById("board-lines").replaceChildren(...board.facilities.filter((f) => f.status !== "idle").map((f) => el("tr", { "data-facility": f.facility_id, "data-status": f.status },
      el("td", { text: f.facility_id + " " + facilityName(f) }),
      el("td", {}, el("span", { class: "badge " + f.status, text: t("status." + f.status) })),
      el("td", { class: "num", text: String(f.shifts_open) }),
      el("td", { class: "num", text: String(f.sales_count) }),
      el("td", { class: "num", text: yen(f.taken) }),
      el("td", { class: "num", text: yen(f.taken_cashless) }),
      el("td", { class: "num", text: signedYen(f.cash_over_short) }),
      el("td", { class: "num", text: String(f.exceptions_open) }),
      el("td", {}, f.reconciled_at ? el("a", { href: "/treasury/report?date=" + date + "&facility=" + f.facility_id, "data-i18n": "report", text: t("report") }) : ""))));
    document.getElementById("city-summary").textContent = t("state.open") + " " + board.city_exceptions_open
      + " · " + t("state.resolved") + " " + board.city_exceptions_resolved + " · " + t("bank.lines") + " " + board.bank_lines
      + " (" + t("bank.unmatched") + " " + board.bank_lines_unmatched + ")";
    const city = await api("GET", "/v1/treasury/exceptions?business_date=" + date + "&level=city");
    document.getElementById("city-exceptions").replaceChildren(exceptionTable(city.exceptions, loadBoard));
    const files = (await api("GET", "/v1/treasury/files")).files;
    document.getElementById("file-lines").replaceChildren(...files.map((f) => el("tr", {},
      el("td", { text: f.name }), el("td", { text: f.kind + (f.brand ? " " + f.brand : "") }), el("td", { class: "num", text: String(f.size_bytes) }),
      el("td", { text: f.uploaded_by + " " + new Date(f.uploaded_at).toLocaleString() }))));
  } catch (error) { showError("error", error); }
}

// A run goes on in the gateway: the page follows it (and finds it again when it comes back to the
// day), showing facility-days done of total, files read, elapsed time and the estimate left.
const RUN_POLL_MS = 500;
let followedRun = null;

function showRun(run) {
  const bar = document.getElementById("reconcile-progress");
  bar.hidden = run.state !== "running";
  bar.max = Math.max(run.facility_days_total, 1);
  bar.value = run.facility_days_done;
  const seconds = (ms) => (ms / 1000).toFixed(1) + " s";
  let text = run.facility_days_done + " / " + run.facility_days_total + " · " + t("files") + " " + run.files_read
    + " · " + seconds(run.elapsed_ms);
  if (run.state === "running" && run.estimate_remaining_ms !== null) text += " · " + t("remaining") + " " + seconds(run.estimate_remaining_ms);
  if (run.state === "running") text += " · " + run.exceptions_found + " " + t("exceptions");
  if (run.state === "succeeded" && run.result) {
    const result = run.result;
    text = result.facilities.length + " " + t("reconciled") + ", " + result.facilities.reduce((n, f) => n + f.exceptions, 0) + " " + t("exceptions")
      + ", " + t("city") + " " + result.city_exceptions;
  }
  if (run.state === "failed") showError("error", new Error(run.error || "failed"));
  document.getElementById("reconcile-result").textContent = text;
}

async function follow(run) {
  followedRun = run.run_id;
  showRun(run);
  while (run.state === "running" && followedRun === run.run_id) {
    await new Promise((resolve) => setTimeout(resolve, RUN_POLL_MS));
    run = await api("GET", "/v1/treasury/runs/" + encodeURIComponent(run.run_id));
    showRun(run);
  }
  if (followedRun === run.run_id) await loadBoard();
}

async function resumeRun(date) {
  try {
    const run = await api("GET", "/v1/treasury/days/" + date + "/run");
    if (run.state === "running" && followedRun !== run.run_id) follow(run);
  } catch (error) { /* no run of the day yet */ }
}

async function reconcile(button) {
  await once(button, async () => {
    showError("error", null);
    const date = document.getElementById("date").value;
    try {
      const run = await api("POST", "/v1/treasury/days/" + date + "/reconcile", {});
      await follow(run);
    } catch (error) { showError("error", error); }
  });
}

async function upload(button) {
  await once(button, async () => {
    showError("error", null);
    const file = document.getElementById("file").files[0];
    if (!file) return;
    const params = new URLSearchParams({ kind: document.getElementById("file-kind").value, name: file.name });
    const brand = document.getElementById("file-brand").value.trim();
    if (brand) params.set("brand", brand);
    const response = await fetch("/v1/treasury/files?" + params, {
      method: "POST", credentials: "same-origin", body: await file.arrayBuffer(),
      headers: { "X-Pos-Csrf": "1", "Content-Type": "application/octet-stream", "Idempotency-Key": newKey() },
    });
    if (!response.ok) { const data = await response.json().catch(() => ({})); showError("error", new Error((data.error && data.error.message) || response.statusText)); }
    await loadBoard();
  });
}

function exceptionTable(exceptions, onChange) {
  if (!exceptions.length) return el("p", { class: "muted", text: "—" });
  return el("table", {}, el("thead", {}, el("tr", {},
    ...["date", "facility", "kind", "records", "at.stake", "suggested", "state", "resolved.by", ""].map((k) => el("th", k ? { "data-i18n": k, text: t(k) } : {})))),
  el("tbody", {}, ...exceptions.map((x) => { const w = words(x); return el("tr", { "data-exception": x.id, "data-kind": x.kind, "data-state": x.state, "data-level": x.facility_id ? "facility" : "city" },
    el("td", { text: x.business_date }), el("td", { text: x.facility_id || t("city") }),
    el("td", { text: w.name }),
    el("td", {}, el("div", { class: "detail", text: w.detail }), el("div", { class: "muted", text: w.records })),
    el("td", { class: "num", text: signedYen(x.amount_at_stake) }),
    el("td", { text: w.action }),
    el("td", { text: t("state." + x.state) }),
    el("td", { text: x.resolved_by ? x.resolved_by + " " + new Date(x.resolved_at).toLocaleString() + " — " + x.resolution_action + ": " + x.resolution_note : "" }),
    el("td", {}, x.state === "open" ? resolveForm(x, onChange) : "")); })));
}

function resolveForm(x, onChange) {
  const action = el("input", { "aria-label": t("action"), placeholder: t("action"), "data-field": "action", size: "14" });
  const note = el("input", { "aria-label": t("note"), placeholder: t("note"), "data-field": "note", size: "18" });
  const key = newKey();
  const button = el("button", { type: "button", "data-action": "resolve", onclick: () => once(button, async () => {
    try { await api("POST", "/v1/treasury/exceptions/" + x.id + "/resolve", { action: action.value, note: note.value }, key); await onChange(); }
    catch (error) { showError("error", error); }
  }) }, t("resolve"));
  return el("span", { class: "row" }, action, note, button);
}

async function loadReport() {
  showError("error", null);
  const date = query("date"), facility = query("facility");
  document.getElementById("title").textContent = facility + " " + date;
  const base = "/v1/treasury/days/" + date + "/facilities/" + facility;
  document.getElementById("report-frame").src = base + "/report?format=html";
  document.querySelectorAll("[data-section]").forEach((a) => { a.href = base + "/report?format=csv&section=" + a.dataset.section; });
  try {
    const board = await api("GET", "/v1/treasury/days/" + date);
    const row = board.facilities.find((f) => f.facility_id === facility);
    document.getElementById("closed-state").textContent = row && row.closed_at ? t("closed") + " " + row.closed_by + " " + new Date(row.closed_at).toLocaleString() : "";
    document.getElementById("close-day").disabled = !!(row && row.closed_at);
    const list = await api("GET", "/v1/treasury/exceptions?business_date=" + date + "&facility_id=" + facility + "&level=facility");
    document.getElementById("exception-table").replaceChildren(exceptionTable(list.exceptions, loadReport));
  } catch (error) { showError("error", error); }
}

async function closeDay(button) {
  await once(button, async () => {
    showError("error", null);
    const date = query("date"), facility = query("facility");
    const keyName = "pos.close." + facility + "." + date;
    let key = sessionStorage.getItem(keyName);
    if (!key) { key = newKey(); sessionStorage.setItem(keyName, key); }
    try { await api("POST", "/v1/treasury/days/" + date + "/facilities/" + facility + "/close", {}, key); }
    catch (error) { sessionStorage.removeItem(keyName); showError("error", error); }
    await loadReport();
  });
}

async function loadExceptions() {
  showError("error", null);
  const params = new URLSearchParams();
  [["business_date", "f-date"], ["facility_id", "f-facility"], ["kind", "f-kind"], ["state", "f-state"], ["level", "f-level"]].forEach(([name, id]) => {
    const value = document.getElementById(id).value.trim();
    if (value) params.set(name, value);
  });
  try {
    const list = await api("GET", "/v1/treasury/exceptions?" + params);
    document.getElementById("exception-table").replaceChildren(exceptionTable(list.exceptions, loadExceptions));
  } catch (error) { showError("error", error); }
}
document.addEventListener("langchange", () => { if (document.getElementById("f-date")) loadExceptions(); });

document.addEventListener("DOMContentLoaded", async () => {
  if (document.getElementById("board")) {
    document.getElementById("date").value = query("date") || tokyoToday();
    document.getElementById("show").addEventListener("click", loadBoard);
    document.getElementById("reconcile").addEventListener("click", (e) => reconcile(e.currentTarget));
    document.getElementById("upload").addEventListener("click", (e) => upload(e.currentTarget));
    document.addEventListener("langchange", loadBoard);
    await loadBoard();
    resumeRun(document.getElementById("date").value);
  } else if (document.getElementById("report-frame")) {
    document.getElementById("print-report").addEventListener("click", () => document.getElementById("report-frame").contentWindow.print());
    document.getElementById("close-day").addEventListener("click", (e) => closeDay(e.currentTarget));
    loadReport();
  } else {
    document.getElementById("f-date").value = query("date") || "";
    document.getElementById("f-state").value = query("state") || "";
    document.getElementById("f-level").value = query("level") || "";
    try {
      const facilities = (await api("GET", "/v1/facilities")).facilities;
      facilities.forEach((f) => document.getElementById("f-facility").append(el("option", { value: f.id, text: f.id + " " + facilityName(f) })));
      document.getElementById("f-facility").value = query("facility") || "";
    } catch (error) { showError("error", error); }
    document.getElementById("filter").addEventListener("click", loadExceptions);
    loadExceptions();
  }
});
