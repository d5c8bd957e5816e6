"use strict";
// Signs in with the user's token; the gateway answers with the session cookie.
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
      const next = new URLSearchParams(location.search).get("next") || "/";
      // Only a path on this site: never a redirect elsewhere.
      location.href = next.startsWith("/") && !next.startsWith("//") ? next : "/";
    } catch (error) { showError("error", error); }
  });
});
