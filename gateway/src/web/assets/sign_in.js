"use strict";
// Signs in with the user's token; the gateway answers with the session cookie.

// The page to go to after signing in: a path of this site only. Backslashes and control characters
// are refused outright (browsers read `/\evil` and `/\t/evil` as `//evil`, another site), and what
// is left must resolve to this origin.
function sameOriginPath(next) {
  if (typeof next !== "string" || !next.startsWith("/") || next.startsWith("//")) return "/";
  if (/[\\\u0000-\u001f\u007f]/.test(next)) return "/";
  try {
    const url = new URL(next, location.origin);
    return url.origin === location.origin ? url.pathname + url.search + url.hash : "/";
  } catch (_) {
    return "/";
  }
}
document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("sign-in-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    showError("error", null);
    try {
      const response = await fetch("/v1/session", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Idempotency-Key": newKey() },
        body: JSON.stringify({ token: document.getElementById("token").value }),
      });
      if (!response.ok) {
        const data = await response.json().catch(() => ({}));
        throw new Error((data.error && data.error.message) || response.statusText);
      }
      location.href = sameOriginPath(new URLSearchParams(location.search).get("next") || "/");
    } catch (error) { showError("error", error); }
  });
});
