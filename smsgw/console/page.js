// What every view of the console shares: the API with the tab's log-in, messages to the user,
// the shown view and its polling, and how dates, languages and SMS counts are written.
import { language, t } from "./i18n.js";
import { foldAccents, notGsm, textInfo } from "./text.js";

export const $ = (selector) => document.querySelector(selector);
// A person's session is the HttpOnly cookie (no script reads it); the tab keeps its CSRF token,
// sent as X-CSRF-Token with every unsafe request. A system's API token (a wall display) is kept
// instead, and sent as a bearer token. Both live in sessionStorage: gone when the tab closes.
export const CSRF = "smsgw.csrf";
export const TOKEN = "smsgw.token";
export const ROLE = "smsgw.role"; // what the user may do: an operator gets no composer
export const MINISTRY = "smsgw.ministry"; // an officer's or supervisor's (none: every ministry)
export const ZONE = "smsgw.zone"; // the gateway's time zone (IANA): every time is shown in it
export const TOTP = "smsgw.totp"; // a person's: required (enrol first), enrolled, optional
const PERSON = "smsgw.person"; // whom the tab acts for (the cookie is the browser's, not the tab's)
export const POLL_MS = 2000;
const KEYS = [CSRF, TOKEN, ROLE, MINISTRY, ZONE, TOTP, PERSON];
const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);
let timer = null; // the shown view's polling, stopped when the view changes
let route = () => {}; // app.js's router: shows the view of the URL (the login when signed out)

export function routeWith(router) {
  route = router;
}

export const signedIn = () => [CSRF, TOKEN].some((key) => sessionStorage.getItem(key) !== null);
export const isPerson = () => sessionStorage.getItem(CSRF) !== null;
export const enrolling = () => sessionStorage.getItem(TOTP) === "required";

// What the console needs of GET /api/v1/me: the user's role and ministry, the gateway's time
// zone, and a person's CSRF token and second factor.
export function remember(me) {
  sessionStorage.setItem(ROLE, me.role);
  if (me.ministry) sessionStorage.setItem(MINISTRY, me.ministry);
  else sessionStorage.removeItem(MINISTRY);
  sessionStorage.setItem(ZONE, me.timezone);
  if (me.csrf) {
    sessionStorage.setItem(CSRF, me.csrf);
    sessionStorage.setItem(TOTP, me.totp);
    sessionStorage.setItem(PERSON, me.person);
  }
}

export function forget() {
  for (const key of KEYS) sessionStorage.removeItem(key);
}

// The navigation of the user's role: none signed out, only "Log out" while a person must enrol.
export function showNav() {
  $("#nav").hidden = !signedIn();
  const role = sessionStorage.getItem(ROLE);
  const allowed = {
    "#/compose": role !== "operator",
    "#/broadcasts": role !== "operator", // read-only operations: no broadcast is theirs
    "#/inbox": role !== "operator", // the ministries' questions are not theirs
    "#/people": role === "admin",
    "#/calendar": ["officer", "supervisor", "admin"].includes(role),
    "#/messages": ["admin", "operator"].includes(role), // an operator's numbers masked
    "#/tokens": role === "admin",
    "#/audit": role === "admin",
    "#/services": ["officer", "supervisor", "admin"].includes(role), // only admins change them
    "#/subscribers": ["officer", "supervisor", "admin"].includes(role),
    "#/import": ["officer", "admin"].includes(role),
    "#/security": isPerson(), // a token has no password nor second factor
  };
  for (const link of document.querySelectorAll("#nav a")) {
    link.hidden = enrolling() || allowed[link.getAttribute("href")] === false;
  }
}

// The body of the API's answer; or an Error with the API's message (and .status, .code).
// What the user reads of a refusal: the catalogue's words where the code says it all (a log-in
// refused, the database read-only), else the API's own (in English, naming the field), led in
// another language by a sentence of its own.
const WORDED = new Set(["login_failed", "storage_unavailable", "internal_error"]);

function errorText(response, error) {
  if (!error) return `${response.status} ${response.statusText}`;
  const wait = response.headers.get("Retry-After");
  if (error.code === "too_many_failures" && wait) return t("error.too_many_failures", { s: wait });
  if (error.code === "unauthorized" && isPerson()) return t("error.session_ended");
  if (WORDED.has(error.code)) return t(`error.${error.code}`);
  const named = error.field && !error.message.includes(error.field); // "texts.es: too long"
  let detail = `${named ? `${error.field}: ` : ""}${error.message}`;
  if (response.status === 429 && wait) {
    detail = t("page.retry", { message: detail.split(/[:;]/)[0], s: wait }); // "… Retry-After s"
  }
  return t("error.api_said", { detail });
}

export async function api(path, options = {}, again = false) {
  const method = (options.method ?? "GET").toUpperCase();
  const headers = { ...options.headers };
  const token = sessionStorage.getItem(TOKEN);
  const csrf = sessionStorage.getItem(CSRF);
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  else if (csrf !== null && !SAFE.has(method)) headers["X-CSRF-Token"] = csrf;
  if (options.body) headers["Content-Type"] ??= "application/json"; // a CSV says its own
  const response = await fetch(path, { ...options, headers });
  const body = (response.headers.get("Content-Type") || "").startsWith("application/json")
    ? await response.json()
    : null;
  if (response.ok) return body;
  const error = body?.error;
  if (response.status === 403 && error?.code === "csrf" && csrf !== null && !again) {
    return replaced(path, options);
  }
  const message = errorText(response, error);
  if (response.status === 401 && $("#login").hidden) {
    forget(); // expired, revoked or ended meanwhile: log in again
    route();
    say("#login-error", message);
  } else if (response.status === 403 && error?.code === "totp_required" && !enrolling()) {
    sessionStorage.setItem(TOTP, "required"); // reset by an admin meanwhile: enrol first
    route();
  }
  throw Object.assign(new Error(message), {
    status: response.status,
    code: error?.code,
    field: error?.field, // "names.es": a form shows it next to its box
  });
}

// GET /api/v1/me of a tab logged in: remembered if it is the tab's person still. Another tab of
// this browser may have logged in since (the cookie is its session now): the same person, its
// CSRF token is taken; another, the tab never acts as them: it logs in again.
export async function refresh() {
  const me = await api("/api/v1/me");
  const mine = sessionStorage.getItem(PERSON);
  if (mine === null || me.person === mine) return remember(me);
  const message = t("page.replaced", { name: me.person });
  forget();
  route();
  say("#login-error", message);
  throw new Error(message);
}

// A 403 did nothing: ask once more with the session's token now (the same person's).
async function replaced(path, options) {
  await refresh();
  return api(path, options, true);
}

// sticky: the answer to something the user did, kept until the next one (polling goes on)
export function say(selector, message, { sticky = false } = {}) {
  const node = $(selector);
  node.textContent = message || "";
  node.hidden = !message;
  node.toggleAttribute("data-sticky", Boolean(message) && sticky);
}

// A filter form: on submit, the first page of what it says, kept in the address
// (path?name=value&…, the empty ones left out) so that a reload or a link shows the same.
export function filtering(form, names, path) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const params = new URLSearchParams();
    for (const name of names) {
      const value = form.elements[name].value.trim();
      if (value) params.set(name, value);
    }
    go(params.size ? `${path}?${params}` : path);
  });
}

export function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash; // hashchange calls the router
}

export function show(id, title) {
  stop();
  for (const section of document.querySelectorAll("main > section")) {
    section.hidden = section.id !== id;
  }
  for (const link of document.querySelectorAll("nav a")) {
    if (location.hash.startsWith(link.hash)) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  for (const error of document.querySelectorAll(`#${id} .error`)) say(`#${error.id}`, "");
  document.title = t("page.title", { view: title });
  $(`#${id} h1`).focus(); // a screen reader hears the new view; Tab goes on from there
}

// step(id) now and every `every` ms while the view stays; `timer === id`: still the view's
export function poll(every, step) {
  const id = setInterval(() => timer === id && step(id), every);
  timer = id;
  step(id);
}

export const polling = (id) => timer === id;

export function stop() {
  clearInterval(timer);
  timer = null;
}

// The zone times are shown in: the gateway's (the login reads it), else the reader's own.
export function timeZone() {
  const name = sessionStorage.getItem(ZONE);
  try {
    if (name) return new Intl.DateTimeFormat([], { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    // a zone this browser does not know: the reader's own, named, rather than a wrong one
  }
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

const DAY = { year: "numeric", month: "numeric", day: "numeric" };
const MINUTE = { hour: "numeric", minute: "2-digit" };

// "12/4/2026, 5:09 PM America/Belize" ("4/12/2026, 17:09 …" in Spanish): as the console's
// language writes it, on the gateway's clock, the zone named (the schedules and quiet hours are
// the gateway's; a reader elsewhere is not misled).
export function date(value) {
  const zone = timeZone();
  const shown = new Date(value).toLocaleString(language, { ...DAY, ...MINUTE, timeZone: zone });
  return `${shown} ${zone}`;
}

// "07:00" (or "17:09:07"): a time of day on the gateway's clock, as config.toml writes them.
export function clock(value, { seconds = false } = {}) {
  const options = { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: timeZone() };
  if (seconds) options.second = "2-digit";
  return new Date(value).toLocaleTimeString(language, options);
}

// <time> of an API timestamp (short, for tables: "12/4/26, 5:09 PM CST", in full in its title)
export function time(value, { short = false } = {}) {
  const node = document.createElement("time");
  node.dateTime = value;
  const brief = { ...DAY, year: "2-digit", ...MINUTE, timeZoneName: "short" };
  node.textContent = short
    ? new Date(value).toLocaleString(language, { ...brief, timeZone: timeZone() })
    : date(value);
  if (short) node.title = date(value);
  return node;
}

// "Spanish" named in the console's language ("Español"); `alone: false` inside a sentence, as
// the language writes it there ("Texto en español").
export function languageName(code, { alone = true } = {}) {
  let name;
  try {
    name = new Intl.DisplayNames([language], { type: "language" }).of(code);
  } catch {
    return code; // not a language tag the browser knows
  }
  return alone ? name.charAt(0).toLocaleUpperCase(language) + name.slice(1) : name;
}

// The SMS counter under a text box: what the server will count and send (fold: the text with
// its accents written plainly, as a broadcast asked to fold them is sent).
export function count(area, counter, { fold = false } = {}) {
  const text = fold ? foldAccents(area.value) : area.value;
  const info = textInfo(text);
  const other = notGsm(text);
  const encoding =
    info.encoding === "gsm7" ? t("page.gsm") : t("page.unicode", { chars: other.join(" ") });
  counter.textContent = t("page.count", {
    used: t("page.count_used", { n: info.units }),
    left: t("page.count_left", { n: info.remaining }),
    sms: t("page.count_sms", { n: info.segments }),
    encoding,
  }); // "44 used, 116 left · 1 SMS · GSM 7-bit"
  counter.dataset.segments = info.segments;
  counter.dataset.encoding = info.encoding;
  counter.dataset.units = info.units;
  counter.dataset.remaining = info.remaining;
}

// The services the user acts on: an officer's or supervisor's ministry's, every one for the
// others; ministries compare as the API compares them, case and surrounding spaces aside.
export function ours(services) {
  const key = (ministry) => ministry.trim().toLowerCase();
  const mine = sessionStorage.getItem(MINISTRY);
  return mine ? services.filter((service) => key(service.ministry) === key(mine)) : services;
}

// A service's name in the reader's language, else in its default one.
export const serviceName = (service) =>
  service.names[language] ?? service.names[service.default_language] ?? "";

// A word in a badge; its classes colour it (never the colour alone: the word is there).
export function badge(text, ...classes) {
  const node = document.createElement("span");
  node.className = ["badge", ...classes].join(" ");
  node.textContent = text;
  return node;
}

// Rows of cells (text) in a table's body.
export function tabulate(selector, rows) {
  const body = $(`${selector} tbody`);
  body.replaceChildren(
    ...rows.map((cells) => {
      const row = document.createElement("tr");
      for (const cell of cells) row.insertCell().textContent = cell;
      return row;
    }),
  );
}

// "45 s", "12 min", "3.5 h", "2.0 days": a duration as people say it
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 60) return t("page.seconds", { n: Math.round(seconds) });
  if (seconds < 3600) return t("page.minutes", { n: Math.round(seconds / 60) });
  if (seconds < 86400 * 2) return t("page.hours", { n: (seconds / 3600).toFixed(1) });
  return t("page.days", { n: (seconds / 86400).toFixed(1) });
}
