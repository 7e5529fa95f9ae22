// The console: views of one page picked by the URL's hash, each reading the gateway's own API
// as the person logged in (login.js). DOM text only through textContent: nothing from the API
// is ever parsed as HTML.
import { showAudit } from "./audit.js";
import { showCalendar } from "./calendar.js";
import { language, t, useLanguage } from "./i18n.js";
import { forgetImport, showImport } from "./import.js";
import { showInbox, showTicket } from "./inbox.js";
import { showKpis } from "./kpis.js";
import { logOut, showSecurity } from "./login.js";
import { showMessage, showMessages } from "./messages.js";
import { forgetErrors, showOperator } from "./operator.js";
import { showPeople } from "./people.js";
import {
  $,
  api,
  badge,
  clock,
  count,
  date,
  enrolling,
  filtering,
  go,
  languageName,
  ours,
  POLL_MS,
  poll,
  polling,
  ROLE,
  refresh,
  routeWith,
  say,
  serviceName,
  show,
  showNav,
  signedIn,
  stop,
  time,
  timeZone,
  ZONE,
} from "./page.js";
import { pollBody, pollFields, resetPoll, showPollResults } from "./polls.js";
import { showReport } from "./report.js";
import "./scroll.js"; // a wide table's box takes focus, for the keyboard
import { showService, showServices } from "./services.js";
import { showSubscribers } from "./subscribers.js";
import { showTokens } from "./tokens.js";

const OPEN = new Set(["awaiting_approval", "scheduled", "queued", "sending"]);
let created = null; // the answer to the last POST, shown once on its broadcast's page
let services = [];

const ROUTES = [
  [/^#\/compose$/, showCompose],
  [/^#\/broadcasts(?:\?(.*))?$/, (query) => showList(new URLSearchParams(query ?? ""))],
  [/^#\/broadcasts\/(\d+)$/, showBroadcast],
  [/^#\/broadcasts\/(\d+)\/report$/, showReport],
  [/^#\/calendar$/, showCalendar],
  [/^#\/messages(?:\?(.*))?$/, (query) => showMessages(new URLSearchParams(query ?? ""))],
  [/^#\/messages\/([^/?]+)$/, showMessage],
  [/^#\/tokens$/, showTokens],
  [/^#\/audit(?:\?(.*))?$/, (query) => showAudit(new URLSearchParams(query ?? ""))],
  [/^#\/alerts$/, showAlerts],
  [/^#\/operator$/, showOperator],
  [/^#\/kpis$/, showKpis],
  [/^#\/inbox(?:\?(.*))?$/, (query) => showInbox(new URLSearchParams(query ?? ""))],
  [/^#\/inbox\/(\d+)$/, showTicket],
  [/^#\/people$/, showPeople],
  [/^#\/security$/, showSecurity],
  [/^#\/services$/, showServices],
  [/^#\/services\/([^/]+)$/, (keyword) => showService(decodeURIComponent(keyword))],
  [/^#\/subscribers$/, showSubscribers],
  [/^#\/import$/, showImport],
];

function route() {
  stop();
  showNav();
  if (!signedIn()) {
    created = null; // nothing of the last user's stays for the next
    forgetErrors();
    forgetImport();
    return show("login", t("login.title"));
  }
  if (enrolling()) return showSecurity(); // an admin or supervisor without TOTP: that first
  for (const [pattern, view] of ROUTES) {
    const match = location.hash.match(pattern);
    if (match) return view(...match.slice(1));
  }
  return go(sessionStorage.getItem(ROLE) === "operator" ? "#/operator" : "#/compose");
}

$("#logout").addEventListener("click", () => logOut());

// Composer

async function showCompose() {
  show("compose", t("compose.title"));
  $("#send-at-hint").textContent = t("compose.send_at_hint", { zone: timeZone() });
  $("#poll-closes-hint").textContent = t("compose.poll_closes_hint", { zone: timeZone() });
  const select = $("#service");
  const chosen = select.value;
  try {
    // only what the user may send to: their own ministry's active services (an admin: all)
    services = ours((await api("/api/v1/services")).services).filter((s) => s.active);
  } catch (error) {
    return say("#compose-error", error.message);
  }
  if (!services.length) say("#compose-error", t("compose.none"));
  const option = (s) => new Option(`${s.keyword} · ${serviceName(s)}`, s.keyword);
  select.replaceChildren(...services.map(option));
  if (services.some((service) => service.keyword === chosen)) select.value = chosen;
  showLanguages();
  return showDistricts();
}

async function showDistricts() {
  if ($("#districts").children.length) return; // the country's: read once
  let districts;
  try {
    ({ districts } = await api("/api/v1/districts"));
  } catch (error) {
    return say("#compose-error", error.message);
  }
  const boxes = districts.map((district) => {
    const label = document.createElement("label");
    label.className = "choice";
    const box = document.createElement("input");
    Object.assign(box, { type: "checkbox", name: "district", value: district.name });
    label.append(box, ` ${district.name}`);
    return label;
  });
  return $("#districts").replaceChildren(...boxes);
}

function showLanguages() {
  const service = services.find((s) => s.keyword === $("#service").value);
  const languages = service
    ? [...new Set([service.default_language, ...Object.keys(service.names)])]
    : [];
  const typed = {}; // a text already written stays when the view is drawn again (a language)
  for (const area of document.querySelectorAll("#panels textarea")) {
    typed[area.dataset.language] = area.value;
  }
  const tabs = [];
  const panels = [];
  for (const language of languages) {
    const name = `${languageName(language)} (${language})`;
    const tab = document.createElement("button");
    Object.assign(tab, { type: "button", id: `tab-${language}`, textContent: name });
    tab.setAttribute("role", "tab");
    tab.setAttribute("aria-controls", `panel-${language}`);
    tab.addEventListener("click", () => selectTab(tab));
    const panel = $("#panel-template").content.firstElementChild.cloneNode(true);
    panel.id = `panel-${language}`;
    panel.setAttribute("aria-labelledby", tab.id);
    const [label, area, counter] = panel.children;
    label.htmlFor = area.id = `text-${language}`;
    const words = { language: `${languageName(language, { alone: false })} (${language})` };
    const required = language === service.default_language;
    label.textContent = t(required ? "compose.text_required" : "compose.text", words);
    area.dataset.language = language;
    area.value = typed[language] ?? "";
    counter.id = `count-${language}`;
    area.setAttribute("aria-describedby", counter.id);
    area.addEventListener("input", () => count(area, counter, { fold: folding() }));
    count(area, counter, { fold: folding() });
    tabs.push(tab);
    panels.push(panel);
  }
  $("#tabs").replaceChildren(...tabs);
  $("#panels").replaceChildren(...panels);
  if (tabs.length) selectTab(tabs[0]);
  pollFields(languages);
}

const folding = () => $("#fold-accents").checked;

// Folding changes what is sent: every counter says so at once.
$("#fold-accents").addEventListener("change", () => {
  for (const area of document.querySelectorAll("#panels textarea")) {
    count(area, $(`#count-${area.dataset.language}`), { fold: folding() });
  }
});

function selectTab(chosen) {
  for (const tab of $("#tabs").children) {
    const selected = tab === chosen;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1; // one tab stop; the arrow keys move between tabs
    $(`#${tab.getAttribute("aria-controls")}`).hidden = !selected;
  }
}

$("#tabs").addEventListener("keydown", (event) => {
  const tabs = [...$("#tabs").children];
  const at = tabs.indexOf(document.activeElement);
  const next = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 }[event.key];
  if (at < 0 || next === undefined) return;
  event.preventDefault();
  const tab = tabs[(next + tabs.length) % tabs.length];
  selectTab(tab);
  tab.focus();
});

$("#service").addEventListener("change", showLanguages);

$("#compose-form").addEventListener("change", (event) => {
  if (event.target.name !== "priority") return;
  const emergency = event.target.value === "emergency";
  $("#emergency").hidden = !emergency;
  $("#confirm-emergency").disabled = !emergency; // a disabled box is not validated
  if (!emergency) $("#confirm-emergency").checked = false;
});

// The body of the POST from the form, or null after saying what is missing.
function draft(form) {
  const texts = {};
  for (const area of document.querySelectorAll("#panels textarea")) {
    if (area.value.trim()) texts[area.dataset.language] = area.value; // sent as counted
  }
  const service = services.find((s) => s.keyword === $("#service").value);
  if (!service) {
    say("#compose-error", t("compose.choose_service"));
    return null;
  }
  const first = service.default_language;
  if (!texts[first]) {
    selectTab($(`#tab-${first}`));
    $(`#text-${first}`).focus();
    const name = languageName(first, { alone: false });
    say("#compose-error", t("compose.write_default", { language: name }));
    return null;
  }
  const body = { service: service.keyword, texts, priority: form.elements.priority.value };
  // typed on the gateway's clock: the API reads a time without an offset in its zone
  if ($("#send-at").value) body.send_at = $("#send-at").value;
  if (folding()) body.fold_accents = true;
  if ($("#valid-for").value) body.valid_for_minutes = Number($("#valid-for").value);
  const districts = [...document.querySelectorAll('#districts input:checked')].map((b) => b.value);
  if (districts.length) body.districts = districts;
  const poll = pollBody();
  if (poll === null) return null; // it said what is missing
  if (poll) body.poll = poll;
  say("#compose-error", "");
  return body;
}

// every district's subscribers, those left out marked: "Toledo 7, Cayo 5 (not sent), …"
function byDistrict(estimate) {
  const chosen = estimate.districts;
  return Object.entries(estimate.audience_by_district)
    .map(([district, n]) => {
      const name = district === "none" ? t("compose.not_said") : district;
      const out = chosen && district !== "none" && !chosen.includes(district);
      return out ? t("compose.left_out", { district: name, n }) : `${name} ${n}`;
    })
    .join(", ");
}

const perLanguage = (counts) =>
  Object.entries(counts)
    .map(([language, n]) => `${language} ${n}`)
    .join(", ");

// Asked for, not polled: one request a click, and the figures are those of the shown form.
$("#check").addEventListener("click", async () => {
  $("#estimate").replaceChildren();
  const body = draft($("#compose-form"));
  if (!body) return;
  let estimate;
  try {
    estimate = await api("/api/v1/broadcasts/estimate", {
      method: "POST",
      body: JSON.stringify(body),
    });
  } catch (error) {
    return say("#compose-error", error.message);
  }
  const facts = $("#estimate-template").content.firstElementChild.cloneNode(true);
  const values = {
    audience: t("compose.subscribers", { n: estimate.audience }),
    audience_by_language: perLanguage(estimate.audience_by_language),
    audience_by_district: byDistrict(estimate),
    segments: perLanguage(estimate.segments),
    cost: `${estimate.cost_estimate} ${estimate.currency}`,
    expires_at: date(estimate.expires_at),
  };
  for (const node of facts.querySelectorAll("[data-estimate]")) {
    node.textContent = values[node.dataset.estimate];
  }
  return $("#estimate").replaceChildren(facts);
});

// an estimate of other texts would mislead: any change takes it away
$("#compose-form").addEventListener("input", () => $("#estimate").replaceChildren());
$("#service").addEventListener("change", () => $("#estimate").replaceChildren());

// One key per broadcast composed: a double click, or the same send again after an answer that
// never came, creates it once (the API answers the first request's answer again).
function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16)); // randomUUID needs https
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
let sendKey = newKey();
let sending = false;

$("#compose-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (sending) return; // the first click's request is on its way
  const form = event.target;
  const body = draft(form);
  if (!body) return;
  sending = true;
  try {
    created = await api("/api/v1/broadcasts", {
      method: "POST",
      body: JSON.stringify(body),
      headers: { "Idempotency-Key": sendKey },
    });
  } catch (error) {
    return say("#compose-error", error.message);
  } finally {
    sending = false;
  }
  sendKey = newKey();
  form.reset();
  $("#estimate").replaceChildren();
  $("#service").value = body.service;
  $("#emergency").hidden = $("#confirm-emergency").disabled = true;
  resetPoll();
  showLanguages();
  return go(`#/broadcasts/${created.id}`);
});

// One broadcast

const percent = (rate) => `${(rate * 100).toFixed(1)} %`;
const seconds = (value) => `${value.toFixed(2)} s`;
// a broadcast's state: its word in a badge of its colour ("badge state-sending")
const stateBadge = (value) => badge(t(`state.${value}`), `state-${value}`);
const FORMATS = {
  created_at: date,
  send_at: date,
  finished_at: date,
  delivery_rate: percent,
  latency_p50_s: seconds,
  latency_p95_s: seconds,
  throughput_per_s: (value) => `${value} / s`,
  state: stateBadge,
  priority: (value) => t(`broadcast.priority.${value}`),
  districts: (value) => value.join(", "),
};

// text or a node in each [data-field] of root
function fill(root, broadcast) {
  for (const node of root.querySelectorAll("[data-field]")) {
    const value = broadcast[node.dataset.field];
    const format = FORMATS[node.dataset.field] ?? String;
    node.replaceChildren(value === null || value === undefined ? "—" : format(value));
  }
}

function showBroadcast(id) {
  show("broadcast", t("broadcast.title", { id }));
  const notice = created && String(created.id) === id ? created : null;
  created = null;
  if (notice) {
    const segments = Object.entries(notice.segments).map(([language, n]) => `${language} ${n}`);
    const words = {
      n: notice.audience,
      state: t(`state.${notice.state}`),
      segments: segments.join(", "),
      cost: notice.cost_estimate,
      currency: notice.currency,
    };
    say("#created", t("broadcast.created_notice", words));
  } else say("#created", "");
  $("#poll-results").hidden = true;
  poll(POLL_MS, async (id_) => {
    try {
      const broadcast = await api(`/api/v1/broadcasts/${id}`);
      if (!polling(id_)) return;
      if (!$("#broadcast-error").hasAttribute("data-sticky")) say("#broadcast-error", "");
      showProgress(broadcast);
      // a poll's answers come in until it closes, after the broadcast's messages are done
      const counting = broadcast.poll && (await showPollResults(broadcast.id, id_));
      if (!OPEN.has(broadcast.state) && broadcast.submitted === 0 && !counting) clearInterval(id_);
    } catch (error) {
      say("#broadcast-error", error.message);
    }
  });
}

// A broadcast's messages by outcome, in the bar's order (submitted: accepted by a carrier, no
// final receipt yet, "in flight"); each part [field, count], in words outcome.<field>.
const OUTCOMES = ["delivered", "failed", "expired", "cancelled", "submitted", "queued"];
const UNFINISHED = new Set(["submitted", "queued", "cancelled"]); // as the API's delivery rate
const added = (numbers) => numbers.reduce((total, n) => total + n, 0);

function outcomes(broadcast) {
  const parts = OUTCOMES.map((field) => [field, broadcast[field]]);
  const known = added(parts.map(([, n]) => n));
  const all = added(Object.values(broadcast.by_state));
  if (all > known) parts.push(["other", all - known]); // a state new to this page
  return parts;
}

function showProgress(broadcast) {
  const section = $("#broadcast");
  fill(section, broadcast);
  const parts = outcomes(broadcast);
  const total = Math.max(broadcast.audience, added(parts.map(([, n]) => n))); // fanning out
  const count = (keep) => added(parts.filter(([field]) => keep(field)).map(([, n]) => n));
  // over the messages that finished, as the API's: the same meaning mid-send as at the end
  const finished = count((field) => !UNFINISHED.has(field));
  section.querySelector('[data-field="delivery_rate"]').textContent =
    broadcast.delivery_rate === null
      ? t("broadcast.none_finished")
      : t("broadcast.rate", { rate: percent(broadcast.delivery_rate), n: finished });
  if (!broadcast.audience && OPEN.has(broadcast.state)) {
    section.querySelector('[data-field="audience"]').textContent = t("broadcast.audience_later");
  }
  const ended = count((field) => field !== "submitted" && field !== "queued");
  $("#progress-text").textContent = total
    ? t("broadcast.ended", { ended, n: total })
    : notStarted(broadcast);
  showSplit(parts, total);
  showHeld(broadcast);
  // an import's welcome to the numbers it signed up, not a broadcast an officer wrote
  const confirmations = $("#broadcast-confirmations");
  confirmations.hidden = !broadcast.joined_at;
  if (broadcast.joined_at) {
    confirmations.textContent = t("broadcast.confirmations", { when: date(broadcast.joined_at) });
  }
  const texts = Object.entries(broadcast.texts).flatMap(([language, text]) => {
    const term = document.createElement("dt");
    term.textContent = `${languageName(language)} · ${broadcast.segments[language]} SMS`;
    const body = document.createElement("dd");
    body.textContent = text;
    return [term, body];
  });
  $("#texts").replaceChildren(...texts);
  const cancel = $("#cancel");
  cancel.hidden = !OPEN.has(broadcast.state);
  cancel.dataset.id = broadcast.id;
  const approve = $("#approve");
  approve.hidden = broadcast.state !== "awaiting_approval";
  approve.dataset.id = broadcast.id;
}

// The bar split by outcome, and the same in words: the legend, and the bar's text alternative.
function showSplit(parts, total) {
  const shown = parts.filter(([, n]) => n > 0);
  const bar = $("#progress");
  bar.hidden = total === 0;
  bar.replaceChildren(
    ...shown.map(([field, n]) => {
      const part = document.createElement("span");
      part.className = `part ${field}`;
      part.style.width = `${(n / total) * 100}%`; // CSSOM: the CSP forbids style=""
      return part;
    }),
  );
  const words = shown.map(([field, n]) => t(`outcome.${field}`, { n })).join(", ");
  bar.setAttribute("aria-label", t("broadcast.progress_label", { n: total, words }));
  $("#progress-legend").replaceChildren(
    ...shown.map(([field, n]) => {
      const item = document.createElement("li");
      item.className = `key ${field}`;
      item.textContent = t(`outcome.${field}`, { n }); // "6 delivered"
      return item;
    }),
  );
}

// Why the outbox holds none of its messages (yet, or ever).
function notStarted(broadcast) {
  const held = broadcast.held_until;
  const why = {
    awaiting_approval: () => t("broadcast.awaiting"),
    scheduled: () => t("broadcast.scheduled_for", { when: date(broadcast.send_at) }),
    queued: () => (held ? t("broadcast.held_start", { time: clock(held) }) : t("broadcast.soon")),
    sending: () => t("broadcast.counting"),
    cancelled: () => t("broadcast.cancelled_early"),
  }[broadcast.state];
  if (why) return why();
  return t(broadcast.started_at ? "broadcast.no_audience" : "broadcast.expired_early");
}

// Quiet hours holding a routine broadcast back: said, with when they end, not left to guess.
function showHeld(broadcast) {
  const until = broadcast.held_until;
  const words = { time: until && clock(until), zone: timeZone(), n: broadcast.queued };
  const text =
    until &&
    t(broadcast.state === "sending" ? "broadcast.held_waiting" : "broadcast.held_note", words);
  if ($("#held").textContent !== (text || "")) say("#held", text); // a status: said once
}

$("#approve").addEventListener("click", async () => {
  const approve = $("#approve");
  approve.disabled = true; // one request a click
  try {
    const broadcast = await api(`/api/v1/broadcasts/${approve.dataset.id}/approve`, {
      method: "POST",
    });
    say("#broadcast-error", "");
    showProgress(broadcast); // the view's polling goes on to the end
    if (approve.hidden) $("#broadcast h1").focus(); // not lost with the hidden button
  } catch (error) {
    say("#broadcast-error", error.message, { sticky: true });
  } finally {
    approve.disabled = false;
  }
});

$("#cancel").addEventListener("click", async () => {
  const id = $("#cancel").dataset.id;
  if (!confirm(t("broadcast.confirm_cancel", { id }))) return;
  try {
    showProgress(await api(`/api/v1/broadcasts/${id}/cancel`, { method: "POST" }));
    say("#broadcast-error", "");
  } catch (error) {
    say("#broadcast-error", error.message, { sticky: true });
  }
});

// Broadcasts

const LIST_PAGE = 50;
const STATES = ["awaiting_approval", "scheduled", "queued", "sending", "done", "cancelled"];

// Broadcasts, the newest first, LIST_PAGE at a time, of one state if asked (in the address:
// #/broadcasts?state=awaiting_approval&before=120); above, those awaiting a second person's
// approval, for whoever may give it.
async function showList(params) {
  show("list", t("list.title"));
  const state = STATES.includes(params.get("state")) ? params.get("state") : "";
  const select = $("#list-state");
  const [any] = select.options; // its words: the page's (data-t)
  select.replaceChildren(any, ...STATES.map((s) => new Option(t(`state.${s}`), s)));
  select.value = state;
  const query = new URLSearchParams({ limit: LIST_PAGE });
  if (state) query.set("state", state);
  if (/^\d+$/.test(params.get("before") ?? "")) query.set("before", params.get("before"));
  let broadcasts;
  try {
    ({ broadcasts } = await api(`/api/v1/broadcasts?${query}`));
  } catch (error) {
    return say("#list-error", error.message);
  }
  const rows = broadcasts.map((broadcast) => {
    const row = document.createElement("tr");
    const link = document.createElement("a");
    link.href = `#/broadcasts/${broadcast.id}`;
    link.textContent = broadcast.id;
    row.insertCell().append(link);
    const fields = ["service", "state", "priority", "send_at", "audience", "delivered"];
    for (const field of [...fields, "created_at"]) {
      const cell = row.insertCell();
      cell.dataset.field = field;
    }
    fill(row, broadcast);
    for (const field of ["send_at", "created_at"]) {
      if (broadcast[field] === null) continue; // no send_at: sent once created (or approved)
      const when = time(broadcast[field], { short: true });
      row.querySelector(`[data-field="${field}"]`).replaceChildren(when);
    }
    if (broadcast.held_until) {
      const cell = row.querySelector('[data-field="state"]');
      cell.append(` ${t("list.held", { time: clock(broadcast.held_until) })}`);
    }
    if (broadcast.joined_at) {
      row.querySelector('[data-field="service"]').append(` · ${t("list.confirmations")}`);
    }
    return row;
  });
  $("#list-empty").hidden = rows.length > 0;
  $("#list-empty").textContent = t(state || params.has("before") ? "list.none" : "list.empty");
  $("#broadcasts").replaceChildren(...rows);
  const base = state ? `#/broadcasts?state=${state}` : "#/broadcasts";
  const older = new URLSearchParams(state ? { state } : {});
  if (broadcasts.length === LIST_PAGE) older.set("before", broadcasts.at(-1).id);
  $("#list-older").hidden = broadcasts.length < LIST_PAGE;
  $("#list-older").href = `#/broadcasts?${older}`;
  $("#list-newest").hidden = !params.has("before");
  $("#list-newest").href = base;
  return showAwaiting(state);
}

// "2 broadcasts await approval": for supervisors and admins, unless that is the list shown.
async function showAwaiting(state) {
  const note = $("#list-awaiting");
  note.hidden = true;
  const approver = ["supervisor", "admin"].includes(sessionStorage.getItem(ROLE));
  if (!approver || state === "awaiting_approval") return;
  let broadcasts;
  try {
    ({ broadcasts } = await api("/api/v1/broadcasts?state=awaiting_approval&limit=500"));
  } catch {
    return; // the list says what failed
  }
  note.firstElementChild.textContent = t("list.awaiting", { n: broadcasts.length });
  note.hidden = broadcasts.length === 0;
}

filtering($("#list-filters"), ["state"], "#/broadcasts");

// Alerts

const carriers = (byCarrier) =>
  Object.entries(byCarrier)
    .map(([carrier, states]) => {
      const parts = Object.entries(states).map(([state, n]) => t(`outcome.${state}`, { n }));
      return `${carrier}: ${parts.join(", ")}`;
    })
    .join("; ");

function showAlerts() {
  show("alerts", t("alerts.title"));
  poll(POLL_MS, async (id_) => {
    let alerts;
    try {
      ({ alerts } = await api("/api/v1/alerts?limit=50"));
    } catch (error) {
      return say("#alerts-error", error.message);
    }
    if (!polling(id_)) return null;
    say("#alerts-error", "");
    const rows = alerts.map((alert) => {
      const row = document.createElement("tr");
      row.insertCell().textContent = date(alert.received_at);
      const name = row.insertCell();
      name.textContent = alert.alert;
      name.title = alert.sender;
      const status = row.insertCell();
      const badge = document.createElement("span");
      badge.className = `badge ${alert.exercise ? "exercise" : alert.status.toLowerCase()}`;
      badge.textContent = t(`alerts.status.${alert.exercise ? "Exercise" : alert.status}`);
      status.append(badge);
      row.insertCell().textContent = t(`alerts.type.${alert.msg_type}`);
      row.insertCell().textContent = alert.headline || alert.event;
      const done = row.insertCell();
      done.textContent = t(`alerts.action.${alert.action}`);
      if (alert.reason) done.title = alert.reason; // the gateway's words, in English
      const broadcast = row.insertCell();
      if (alert.broadcast !== null && sessionStorage.getItem(ROLE) !== "operator") {
        const link = document.createElement("a");
        link.href = `#/broadcasts/${alert.broadcast}`;
        link.textContent = alert.broadcast;
        broadcast.append(link);
      } else broadcast.textContent = alert.broadcast ?? alert.reason ?? "—"; // operators: no link
      const first = alert.first_submit_s;
      row.insertCell().textContent = first === null ? "—" : seconds(first);
      row.insertCell().textContent = carriers(alert.by_carrier) || "—";
      return row;
    });
    $("#alerts-empty").hidden = rows.length > 0;
    return $("#alert-rows").replaceChildren(...rows);
  });
}

// Another language: the page's words at once, the view drawn again in it (what is typed stays).
$("#language").addEventListener("change", async (event) => {
  await useLanguage(event.target.value);
  route();
});

// A tab signed in before the console knew the gateway's zone (an upgrade) asks for it once.
async function start() {
  await useLanguage();
  $("#language").value = language;
  if (signedIn() && sessionStorage.getItem(ZONE) === null) {
    try {
      await refresh();
    } catch {
      if (!signedIn()) return; // refused: api() showed the login
    }
  }
  route();
}

routeWith(route);
window.addEventListener("hashchange", route);
start();
