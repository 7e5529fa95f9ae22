// Logging in (a person: name, password and, once set up, a code; or a system's API token) and
// out (this tab, or everywhere), and a person's own Security: two-step log-in (TOTP) with its
// recovery codes, their password. The session itself is the HttpOnly cookie the API sets.
import { t } from "./i18n.js";
import {
  $,
  api,
  CSRF,
  enrolling,
  forget,
  go,
  isPerson,
  refresh,
  remember,
  say,
  show,
  showNav,
  TOKEN,
  TOTP,
} from "./page.js";

let busy = false; // a log-in on its way: a second click sends nothing

async function logIn(form, error, ask) {
  if (busy) return;
  busy = true;
  say("#login-notice", "");
  forget(); // nothing of an earlier log-in goes with this one
  try {
    await ask();
    remember(await api("/api/v1/me"));
  } catch (failure) {
    forget();
    say(error, failure.message);
    return;
  } finally {
    busy = false;
  }
  form.reset();
  go(location.hash); // the view asked for (one who must enrol: Security)
}

$("#login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const body = { name: $("#login-name").value, password: $("#login-password").value };
  const code = $("#login-code").value.trim();
  if (code) body.code = code;
  return logIn(event.target, "#login-error", async () => {
    const session = await api("/api/v1/session", { method: "POST", body: JSON.stringify(body) });
    sessionStorage.setItem(CSRF, session.csrf);
  });
});

$("#token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = $("#token").value.trim();
  return logIn(event.target, "#token-error", async () => sessionStorage.setItem(TOKEN, token));
});

// A person's session ends at the gateway (everywhere: every one of theirs); a token's tab just
// forgets it. Either way the tab shows the log-in, saying what happened.
export async function logOut({ everywhere = false } = {}) {
  let said = everywhere ? t("login.out_everywhere") : "";
  if (isPerson()) {
    try {
      await api(`/api/v1/session${everywhere ? "?everywhere=true" : ""}`, { method: "DELETE" });
    } catch (error) {
      said = t("login.out_tab", { error: error.message });
    }
  }
  forget();
  go("#/login");
  say("#login-notice", said);
}

$("#logout-everywhere").addEventListener("click", () => logOut({ everywhere: true }));

// Security

const TOTP_STATES = new Set(["required", "enrolled", "optional"]); // security.state.*

export async function showSecurity() {
  // the recovery codes on show, the view drawn again (another language): they stay, as they are
  // shown this once
  const codes = !$("#security").hidden && !$("#recovery").hidden;
  show("security", t("security.title"));
  if (codes) {
    say("#security-done", t("security.on"));
    return showTotp("enrolled");
  }
  $("#totp-form").hidden = true;
  $("#recovery").hidden = true;
  $("#recovery-codes").replaceChildren();
  say("#security-done", "");
  const was = enrolling();
  try {
    await refresh(); // its state now (a tab may have enrolled meanwhile)
  } catch (error) {
    return say("#security-error", error.message);
  }
  if (was && !enrolling()) showNav();
  return showTotp();
}

// ``state``: as the gateway has it (one who had to enrol stays "required" in the tab until
// they have kept their recovery codes: only then does the rest of the console open).
function showTotp(state = sessionStorage.getItem(TOTP)) {
  $("#security-required").hidden = state !== "required";
  $("#totp-state").textContent = TOTP_STATES.has(state) ? t(`security.state.${state}`) : "";
  $("#totp-start").textContent =
    state === "enrolled" ? t("security.new_app") : t("security.totp_start");
  $("#totp-start").hidden = !$("#recovery").hidden; // the codes first
}

$("#totp-start").addEventListener("click", async () => {
  let started;
  try {
    started = await api("/api/v1/me/totp", { method: "POST" });
  } catch (error) {
    return say("#security-error", error.message);
  }
  say("#security-error", "");
  $("#totp-secret").textContent = started.secret; // as text: no QR code library is loaded
  $("#totp-uri").textContent = started.uri;
  $("#totp-form").hidden = false;
  return $("#totp-code").focus();
});

$("#totp-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  let confirmed;
  try {
    confirmed = await api("/api/v1/me/totp/confirm", {
      method: "POST",
      body: JSON.stringify({ code: $("#totp-code").value.trim() }),
    });
  } catch (error) {
    return say("#security-error", error.message);
  }
  say("#security-error", "");
  event.target.reset();
  event.target.hidden = true;
  const codes = confirmed.recovery_codes.map((code) => {
    const item = document.createElement("li");
    item.textContent = code;
    return item;
  });
  $("#recovery-codes").replaceChildren(...codes);
  $("#recovery").hidden = false;
  showTotp("enrolled");
  say("#security-done", t("security.on"));
  $("#recovery-kept").focus();
  return undefined;
});

// The codes leave the page (they are not shown again); one who had to enrol may now go on.
$("#recovery-kept").addEventListener("click", () => {
  const first = enrolling();
  sessionStorage.setItem(TOTP, "enrolled");
  $("#recovery-codes").replaceChildren();
  $("#recovery").hidden = true;
  showTotp();
  if (first) {
    showNav();
    go("#/");
  }
});

$("#password-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = { current: $("#password-current").value, new: $("#password-new").value };
  try {
    await api("/api/v1/me/password", { method: "POST", body: JSON.stringify(body) });
  } catch (error) {
    return say("#security-error", error.message);
  }
  event.target.reset();
  say("#security-error", "");
  return say("#security-done", t("security.changed"));
});
