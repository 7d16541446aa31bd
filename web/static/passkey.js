// Passkeys on the dashboard: each ceremony is a begin call (options for
// navigator.credentials), the browser's prompt, and a finish call with its
// answer. Both calls are form posts with the page's CSRF token.
(() => {
  "use strict";
  const supported = () =>
    window.PublicKeyCredential &&
    typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function" &&
    typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function";

  async function post(url, fields) {
    const res = await fetch(url, { method: "POST", body: new URLSearchParams(fields), credentials: "same-origin" });
    let body = {};
    try { body = await res.json(); } catch { body = {}; }
    if (!res.ok) throw new Error(body.error || "The relay answered " + res.status + ".");
    return body;
  }

  function status(btn, text) {
    const el = btn.parentElement.querySelector("[data-passkey-status]");
    if (!el) return;
    el.textContent = text;
    el.hidden = !text;
  }

  const ceremonies = {
    async register(btn) {
      const csrf = btn.dataset.csrf;
      const name = (document.getElementById("passkey-name") || {}).value || "";
      const begun = await post("/passkeys/begin", { csrf });
      const cred = await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(begun.options) });
      return post("/passkeys/finish", { csrf, ceremony: begun.ceremony, name, response: JSON.stringify(cred.toJSON()) });
    },
    async login(btn) {
      const csrf = btn.dataset.csrf;
      const begun = await post("/login/passkey/begin", { csrf });
      const cred = await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(begun.options) });
      return post("/login/passkey/finish", { csrf, ceremony: begun.ceremony, next: btn.dataset.next || "/", response: JSON.stringify(cred.toJSON()) });
    },
    async approve(btn) {
      const csrf = btn.dataset.csrf;
      const base = "/r/" + encodeURIComponent(btn.dataset.request) + "/passkey/";
      const begun = await post(base + "begin", { csrf, decision: "approve" });
      const cred = await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(begun.options) });
      return post(base + "finish", { csrf, ceremony: begun.ceremony, decision: "approve", response: JSON.stringify(cred.toJSON()) });
    },
  };

  document.addEventListener("DOMContentLoaded", () => {
    for (const btn of document.querySelectorAll("[data-passkey]")) {
      const run = ceremonies[btn.dataset.passkey];
      if (!run) continue;
      if (!supported()) {
        btn.disabled = true;
        status(btn, "This browser cannot use passkeys here.");
        continue;
      }
      btn.addEventListener("click", async () => {
        btn.disabled = true;
        status(btn, "");
        try {
          const done = await run(btn);
          window.location.assign(done.next || "/");
        } catch (err) {
          status(btn, err && err.name === "NotAllowedError" ? "The passkey prompt was cancelled or timed out." : String(err && err.message || err));
          btn.disabled = false;
        }
      });
    }
  });
})();
