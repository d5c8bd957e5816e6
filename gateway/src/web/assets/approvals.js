"use strict";
// A supervisor's page (the facility's designated manager, or treasury): the clerks' refund
// requests to approve or reject, and one-time approval codes for a payment and an amount. The
// supervisor acts from their own session; nobody types another person's token.

async function loadRequests() {
  showError("error", null);
  try {
    const list = await api("GET", "/v1/refund-requests?state=pending");
    const rows = list.requests.map((r) => el("tr", { "data-request": r.id, "data-state": r.state },
      el("td", { text: r.facility_id + " / " + r.register_id }),
      el("td", { text: (r.requested_by || "") + " " + new Date(r.created_at).toLocaleString() }),
      el("td", { text: r.payment_id + (r.payment && r.payment.brand ? " (" + r.payment.brand + ", " + yen(r.payment.amount) + ")" : "") }),
      el("td", { class: "num", text: yen(r.amount) }),
      el("td", { text: r.reason }),
      el("td", {},
        el("button", { type: "button", class: "primary", "data-action": "approve", onclick: (e) => decide(e.currentTarget, r, true) }, t("approve")),
        " ",
        el("button", { type: "button", class: "danger", "data-action": "reject", onclick: (e) => decide(e.currentTarget, r, false) }, t("reject")))));
    document.getElementById("approval-lines").replaceChildren(...rows);
    document.getElementById("approvals-empty").hidden = rows.length > 0;
  } catch (error) { showError("error", error); }
}

async function decide(button, request, approve) {
  const note = approve ? "" : window.prompt(t("reject.reason"), "");
  if (!approve && note === null) return;
  await once(button, async () => {
    showError("error", null);
    try {
      const decided = await api("POST", "/v1/refund-requests/" + request.id + (approve ? "/approve" : "/reject"), { note: note || "" });
      const row = document.querySelector('[data-request="' + request.id + '"]');
      if (row) {
        row.dataset.state = decided.state;
        row.lastChild.replaceChildren(el("span", { class: "badge", text: t("approval." + decided.state) }));
      }
    } catch (error) { showError("error", error); }
  });
}

async function issueCode(button) {
  await once(button, async () => {
    showError("error", null);
    const payment = document.getElementById("code-payment").value.trim();
    const amount = Number(document.getElementById("code-amount").value);
    try {
      const issued = await api("POST", "/v1/payments/" + encodeURIComponent(payment) + "/approval-codes", { amount });
      const result = document.getElementById("code-result");
      result.replaceChildren(el("strong", { id: "code-value", text: issued.code }), " ",
        t("code.valid", new Date(issued.expires_at).toLocaleTimeString()));
    } catch (error) { showError("error", error); }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("code-issue").addEventListener("click", (e) => issueCode(e.currentTarget));
  loadRequests();
  setInterval(loadRequests, 5000);
});
