"use strict";
// Analytics: each chart is an SVG the gateway renders from the journal for the filter, with its
// figures downloadable as CSV from the same endpoint.

const CHARTS = ["cashless-share", "by-method", "by-brand", "heatmap", "top-fee-items", "fees-by-brand", "facilities"];

function filterParams() {
  const params = new URLSearchParams();
  ["from", "to", "granularity"].forEach((id) => params.set(id, document.getElementById(id).value));
  [["facility_id", "facility"], ["operator_id", "operator"], ["method", "method"]].forEach(([name, id]) => {
    const value = document.getElementById(id).value;
    if (value) params.set(name, value);
  });
  params.set("lang", lang());
  return params;
}

// The analysts' long table for the same filter (it takes no granularity or language).
function exportLinks(params) {
  const tidy = new URLSearchParams(params);
  tidy.delete("granularity");
  tidy.delete("lang");
  document.getElementById("tidy-csv").href = "/v1/exports/tidy?" + tidy + "&format=csv";
  document.getElementById("tidy-parquet").href = "/v1/exports/tidy?" + tidy + "&format=parquet";
}

async function loadCharts() {
  showError("error", null);
  const params = filterParams();
  exportLinks(params);
  history.replaceState(null, "", "/analytics?" + params);
  const box = document.getElementById("charts");
  box.replaceChildren();
  for (const chart of CHARTS) {
    const section = el("section", { class: "chart", "data-chart": chart },
      el("h2", { "data-i18n": "chart." + chart, text: t("chart." + chart) }),
      el("p", { class: "noprint" }, el("a", { class: "button", href: "/v1/analytics/" + chart + "?" + params + "&format=csv", "data-i18n": "download.csv", text: t("download.csv") })),
      el("div", { class: "svg" }));
    box.append(section);
    try {
      const response = await fetch("/v1/analytics/" + chart + "?" + params + "&format=svg", { credentials: "same-origin" });
      const text = await response.text();
      if (!response.ok) {
        let message = response.statusText;
        try { message = JSON.parse(text).error.message; } catch (_) { /* not JSON */ }
        throw new Error(message);
      }
      // The SVG is the gateway's own rendering of journal figures (no user markup in it).
      section.querySelector(".svg").innerHTML = text;
    } catch (error) { section.querySelector(".svg").append(el("p", { class: "error", text: t("error") + ": " + error.message })); }
  }
}

document.addEventListener("DOMContentLoaded", async () => {
  const today = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Tokyo" }).format(new Date());
  const q = new URLSearchParams(location.search);
  const monthAgo = new Date(Date.now() - 30 * 86400000);
  document.getElementById("from").value = q.get("from") || new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Tokyo" }).format(monthAgo);
  document.getElementById("to").value = q.get("to") || today;
  document.getElementById("granularity").value = q.get("granularity") || "day";
  document.getElementById("method").value = q.get("method") || "";
  try {
    const facilities = (await api("GET", "/v1/facilities")).facilities;
    facilities.forEach((f) => document.getElementById("facility").append(el("option", { value: f.id, text: f.id + " " + (lang() === "en" ? f.name_en : f.name_ja) })));
    [...new Set(facilities.map((f) => f.owner).filter((o) => o !== "city"))].forEach((o) => document.getElementById("operator").append(el("option", { value: o, text: o })));
    document.getElementById("facility").value = q.get("facility_id") || "";
    document.getElementById("operator").value = q.get("operator_id") || "";
  } catch (error) { showError("error", error); }
  document.getElementById("show").addEventListener("click", loadCharts);
  document.addEventListener("langchange", loadCharts);
  loadCharts();
});
