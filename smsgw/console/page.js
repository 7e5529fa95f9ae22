// What every view of the console shares: the API with the tab's token, messages to the user, the
// shown view and its polling, and how dates, languages and SMS counts are written.
import { notGsm, textInfo } from "./text.js";

export const $ = (selector) => document.querySelector(selector);
export const TOKEN = "smsgw.token";
export const ROLE = "smsgw.role"; // what the token may do: an operator gets no composer
export const MINISTRY = "smsgw.ministry"; // an officer's or supervisor's (none: every ministry)
export const POLL_MS = 2000;
let timer = null; // the shown view's polling, stopped when the view changes
let route = () => {}; // app.js's router: shows the view of the URL (the login when signed out)

export function routeWith(router) {
  route = router;
}

export async function api(path, options = {}) {
  const headers = {
    ...options.headers,
    Authorization: `Bearer ${sessionStorage.getItem(TOKEN)}`,
  };
  if (options.body) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { ...options, headers });
  const body = (response.headers.get("Content-Type") || "").startsWith("application/json")
    ? await response.json()
    : null;
  if (response.ok) return body;
  const error = body?.error;
  const named = error?.field && !error.message.includes(error.field); // "texts.es: too long"
  const message = error
    ? `${named ? `${error.field}: ` : ""}${error.message}`
    : `${response.status} ${response.statusText}`;
  if (response.status === 401 && $("#login").hidden) {
    sessionStorage.removeItem(TOKEN); // expired or revoked meanwhile: log in again
    route();
    say("#login-error", message);
  }
  throw new Error(message);
}

// sticky: the answer to something the user did, kept until the next one (polling goes on)
export function say(selector, message, { sticky = false } = {}) {
  const node = $(selector);
  node.textContent = message || "";
  node.hidden = !message;
  node.toggleAttribute("data-sticky", Boolean(message) && sticky);
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
  document.title = `${title} · smsgw`;
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

export function date(value) {
  return new Date(value).toLocaleString();
}

const SHORT = { dateStyle: "short", timeStyle: "short" };

// <time> of an API timestamp, in the reader's locale (short: to the minute, for tables)
export function time(value, { short = false } = {}) {
  const node = document.createElement("time");
  node.dateTime = value;
  node.textContent = short ? new Date(value).toLocaleString([], SHORT) : date(value);
  if (short) node.title = date(value);
  return node;
}

const languageNames = new Intl.DisplayNames(["en"], { type: "language" });
export const languageName = (code) => {
  try {
    return languageNames.of(code);
  } catch {
    return code; // not a language tag the browser knows
  }
};

// The SMS counter under a text box: what the server will count and send.
export function count(area, counter) {
  const info = textInfo(area.value);
  const other = notGsm(area.value);
  const encoding = info.encoding === "gsm7" ? "GSM 7-bit" : `Unicode (UCS-2: ${other.join(" ")})`;
  const sms = `${info.segments} SMS`;
  counter.textContent = `${info.units} used, ${info.remaining} left · ${sms} · ${encoding}`;
  counter.dataset.segments = info.segments;
  counter.dataset.encoding = info.encoding;
  counter.dataset.units = info.units;
  counter.dataset.remaining = info.remaining;
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
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 86400 * 2) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} days`;
}
