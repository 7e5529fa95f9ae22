// The console: views of one page picked by the URL's hash, each reading the gateway's own API
// as the person logged in (login.js). DOM text only through textContent: nothing from the API
// is ever parsed as HTML.
import { language, useLanguage } from "./i18n.js";
import { showInbox, showQuestionFigures, showTicket } from "./inbox.js";
import { logOut, showSecurity } from "./login.js";
import { showPeople } from "./people.js";
import {
  $,
  api,
  badge,
  clock,
  count,
  date,
  enrolling,
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
  show,
  showNav,
  signedIn,
  stop,
  tabulate,
  time,
  timeZone,
  ZONE,
} from "./page.js";
import { pollBody, pollFields, resetPoll, showPollResults } from "./polls.js";

const BARS = 30; // the operator's chart: one a scrape, a minute in all
const RECENT = 20; // the operator's recent errors, the newest first
const OPEN = new Set(["awaiting_approval", "scheduled", "queued", "sending"]);
let created = null; // the answer to the last POST, shown once on its broadcast's page
let services = [];
let counted = null; // the error counters and bind states of the last scrape (null: none yet)
let recent = []; // [when, text] of what went wrong since, the newest first

const ROUTES = [
  [/^#\/compose$/, showCompose],
  [/^#\/broadcasts$/, showList],
  [/^#\/broadcasts\/(\d+)$/, showBroadcast],
  [/^#\/alerts$/, showAlerts],
  [/^#\/operator$/, showOperator],
  [/^#\/kpis$/, showKpis],
  [/^#\/inbox(?:\?(.*))?$/, (query) => showInbox(new URLSearchParams(query ?? ""))],
  [/^#\/inbox\/(\d+)$/, showTicket],
  [/^#\/people$/, showPeople],
  [/^#\/security$/, showSecurity],
];

function route() {
  stop();
  showNav();
  if (!signedIn()) {
    created = null; // nothing of the last user's stays for the next
    counted = null;
    recent = [];
    return show("login", "Log in");
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
  show("compose", "New broadcast");
  const select = $("#service");
  const chosen = select.value;
  try {
    // only what the user may send to: their own ministry's active services (an admin: all)
    services = ours((await api("/api/v1/services")).services).filter((s) => s.active);
  } catch (error) {
    return say("#compose-error", error.message);
  }
  if (!services.length) say("#compose-error", "No active service of your ministry to send to.");
  const option = (s) =>
    new Option(`${s.keyword} · ${s.names[s.default_language] ?? ""}`, s.keyword);
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
    const required = language === service.default_language ? " (required)" : "";
    label.textContent = `${name} text${required}`;
    area.dataset.language = language;
    area.value = typed[language] ?? "";
    counter.id = `count-${language}`;
    area.setAttribute("aria-describedby", counter.id);
    area.addEventListener("input", () => count(area, counter));
    count(area, counter);
    tabs.push(tab);
    panels.push(panel);
  }
  $("#tabs").replaceChildren(...tabs);
  $("#panels").replaceChildren(...panels);
  if (tabs.length) selectTab(tabs[0]);
  pollFields(languages);
}

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
    say("#compose-error", "Choose a service.");
    return null;
  }
  const first = service.default_language;
  if (!texts[first]) {
    selectTab($(`#tab-${first}`));
    $(`#text-${first}`).focus();
    const name = languageName(first);
    say("#compose-error", `Write the ${name} text: subscribers of other languages get it.`);
    return null;
  }
  const body = { service: service.keyword, texts, priority: form.elements.priority.value };
  if ($("#send-at").value) body.send_at = new Date($("#send-at").value).toISOString();
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
      const name = district === "none" ? "not said" : district;
      const out = chosen && district !== "none" && !chosen.includes(district);
      return `${name} ${n}${out ? " (not sent)" : ""}`;
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
    audience: `${estimate.audience} subscribers`,
    audience_by_language: perLanguage(estimate.audience_by_language),
    audience_by_district: byDistrict(estimate),
    segments: perLanguage(estimate.segments),
    cost: `${estimate.cost_estimate} ${estimate.currency}`,
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
const stateBadge = (value) => badge(value.replaceAll("_", " "), `state-${value}`);
const FORMATS = {
  created_at: date,
  send_at: date,
  finished_at: date,
  delivery_rate: percent,
  latency_p50_s: seconds,
  latency_p95_s: seconds,
  throughput_per_s: (value) => `${value} / s`,
  state: stateBadge,
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
  show("broadcast", `Broadcast ${id}`);
  const notice = created && String(created.id) === id ? created : null;
  created = null;
  if (notice) {
    const segments = Object.entries(notice.segments).map(([language, n]) => `${language} ${n}`);
    say(
      "#created",
      `Created for ${notice.audience} subscribers (${notice.state.replaceAll("_", " ")}); ` +
        `SMS per message: ${segments.join(", ")}; ` +
        `estimated cost ${notice.cost_estimate} ${notice.currency}.`,
    );
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

// A broadcast's messages by outcome, in the bar's order: [field, words, count].
const OUTCOMES = [
  ["delivered", "delivered"],
  ["failed", "failed"],
  ["expired", "expired"],
  ["cancelled", "cancelled"],
  ["submitted", "in flight"], // accepted by a carrier, no final receipt yet
  ["queued", "queued"],
];
const UNFINISHED = new Set(["submitted", "queued", "cancelled"]); // as the API's delivery rate
const added = (numbers) => numbers.reduce((total, n) => total + n, 0);

function outcomes(broadcast) {
  const parts = OUTCOMES.map(([field, words]) => [field, words, broadcast[field]]);
  const known = added(parts.map(([, , n]) => n));
  const all = added(Object.values(broadcast.by_state));
  if (all > known) parts.push(["other", "other", all - known]); // a state new to this page
  return parts;
}

function showProgress(broadcast) {
  const section = $("#broadcast");
  fill(section, broadcast);
  const parts = outcomes(broadcast);
  const total = Math.max(broadcast.audience, added(parts.map(([, , n]) => n))); // fanning out
  const count = (keep) => added(parts.filter(([field]) => keep(field)).map(([, , n]) => n));
  // over the messages that finished, as the API's: the same meaning mid-send as at the end
  const finished = count((field) => !UNFINISHED.has(field));
  section.querySelector('[data-field="delivery_rate"]').textContent =
    broadcast.delivery_rate === null
      ? "none finished yet"
      : `${percent(broadcast.delivery_rate)} of ${finished} finished`;
  if (!broadcast.audience && OPEN.has(broadcast.state)) {
    section.querySelector('[data-field="audience"]').textContent = "counted when sending starts";
  }
  const ended = count((field) => field !== "submitted" && field !== "queued");
  $("#progress-text").textContent = total ? `${ended} of ${total} ended` : notStarted(broadcast);
  showSplit(parts, total);
  showHeld(broadcast);
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
  const shown = parts.filter(([, , n]) => n > 0);
  const bar = $("#progress");
  bar.hidden = total === 0;
  bar.replaceChildren(
    ...shown.map(([field, , n]) => {
      const part = document.createElement("span");
      part.className = `part ${field}`;
      part.style.width = `${(n / total) * 100}%`; // CSSOM: the CSP forbids style=""
      return part;
    }),
  );
  const words = shown.map(([, name, n]) => `${n} ${name}`).join(", ");
  bar.setAttribute("aria-label", `Progress of ${total} messages: ${words}`);
  $("#progress-legend").replaceChildren(
    ...shown.map(([field, name, n]) => {
      const item = document.createElement("li");
      item.className = `key ${field}`;
      item.textContent = `${n} ${name}`;
      return item;
    }),
  );
}

// Why the outbox holds none of its messages (yet, or ever).
function notStarted(broadcast) {
  const held = broadcast.held_until && `held until ${clock(broadcast.held_until)} by quiet hours`;
  const why = {
    awaiting_approval: "not started: it waits for a second person's approval",
    scheduled: `not started: scheduled for ${broadcast.send_at && date(broadcast.send_at)}`,
    queued: `not started: ${held || "sending begins in a moment"}`,
    sending: "starting: the audience is being counted",
    cancelled: "nothing sent: cancelled before it started",
  }[broadcast.state];
  if (why) return why;
  return broadcast.started_at ? "nothing sent: no subscriber to send to" : "nothing sent: expired";
}

// Quiet hours holding a routine broadcast back: said, with when they end, not left to guess.
function showHeld(broadcast) {
  const until = broadcast.held_until;
  const waiting = broadcast.state === "sending" ? ` (${broadcast.queued} messages wait)` : "";
  const text =
    until &&
    `Held until ${clock(until)} ${timeZone()} by quiet hours${waiting}: routine broadcasts ` +
      "wait them out; emergencies do not.";
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
  if (!confirm(`Cancel broadcast ${id}? Messages not yet sent will not go.`)) return;
  try {
    showProgress(await api(`/api/v1/broadcasts/${id}/cancel`, { method: "POST" }));
    say("#broadcast-error", "");
  } catch (error) {
    say("#broadcast-error", error.message, { sticky: true });
  }
});

// Broadcasts

async function showList() {
  show("list", "Broadcasts");
  let broadcasts;
  try {
    ({ broadcasts } = await api("/api/v1/broadcasts?limit=50"));
  } catch (error) {
    return say("#list-error", error.message);
  }
  const rows = broadcasts.map((broadcast) => {
    const row = document.createElement("tr");
    const link = document.createElement("a");
    link.href = `#/broadcasts/${broadcast.id}`;
    link.textContent = broadcast.id;
    row.insertCell().append(link);
    for (const field of ["service", "state", "priority", "audience", "delivered", "created_at"]) {
      const cell = row.insertCell();
      cell.dataset.field = field;
    }
    fill(row, broadcast);
    row.querySelector('[data-field="created_at"]').replaceChildren(
      time(broadcast.created_at, { short: true }),
    );
    if (broadcast.held_until) {
      const state = row.querySelector('[data-field="state"]');
      state.append(` held until ${clock(broadcast.held_until)} by quiet hours`);
    }
    return row;
  });
  $("#list-empty").hidden = rows.length > 0;
  return $("#broadcasts").replaceChildren(...rows);
}

// Alerts

const carriers = (byCarrier) =>
  Object.entries(byCarrier)
    .map(([carrier, states]) => {
      const parts = Object.entries(states).map(([state, n]) => `${n} ${state}`);
      return `${carrier}: ${parts.join(", ")}`;
    })
    .join("; ");

function showAlerts() {
  show("alerts", "Alerts");
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
      badge.textContent = alert.exercise ? "Exercise" : alert.status;
      status.append(badge);
      row.insertCell().textContent = alert.msg_type;
      row.insertCell().textContent = alert.headline || alert.event;
      const done = row.insertCell();
      done.textContent = alert.action.replaceAll("_", " ");
      if (alert.reason) done.title = alert.reason;
      const broadcast = row.insertCell();
      if (alert.broadcast !== null) {
        const link = document.createElement("a");
        link.href = `#/broadcasts/${alert.broadcast}`;
        link.textContent = alert.broadcast;
        broadcast.append(link);
      } else broadcast.textContent = alert.reason ?? "—";
      const first = alert.first_submit_s;
      row.insertCell().textContent = first === null ? "—" : seconds(first);
      row.insertCell().textContent = carriers(alert.by_carrier) || "—";
      return row;
    });
    $("#alerts-empty").hidden = rows.length > 0;
    return $("#alert-rows").replaceChildren(...rows);
  });
}

// Operator

function sum(text, pattern) {
  return [...text.matchAll(pattern)].reduce((total, match) => total + Number(match[1]), 0);
}

function showOperator() {
  show("operator", "Operator");
  const samples = []; // [seconds, submits accepted so far]
  poll(POLL_MS, async (id) => {
    let health;
    let metrics;
    try {
      [health, metrics] = await Promise.all([
        fetch("/healthz").then((response) => response.json()),
        fetch("/metrics").then((response) => response.text()),
      ]);
    } catch (error) {
      return say("#operator-error", error.message);
    }
    if (!polling(id)) return;
    say("#operator-error", "");
    showChannels(health);
    const accepted = sum(metrics, /^smsgw_submits_total\{[^}]*status="ok"[^}]*\} (\S+)$/gm);
    samples.push([performance.now() / 1000, accepted]);
    if (samples.length > BARS + 1) samples.shift();
    $("#queued").textContent = sum(metrics, /^smsgw_outbox_queued\{[^}]*\} (\S+)$/gm);
    drawRates(samples);
    noteErrors(metrics, health);
  });
  showErrors();
}

// The samples of one metric in the Prometheus text format: [{labels}, value].
function samplesOf(text, name) {
  const line = new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, "gm");
  return [...text.matchAll(line)].map(([, labels, value]) => [
    Object.fromEntries(
      [...labels.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, key, raw]) => [
        key,
        raw.replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c)),
      ]),
    ),
    Number(value),
  ]);
}

// What went wrong since the last scrape, from the counters' increases and the binds' falls.
function noteErrors(metrics, health) {
  const now = {};
  for (const [labels, value] of samplesOf(metrics, "smsgw_submits_total")) {
    if (labels.status !== "ok") now[`${labels.channel} ${labels.status}`] = value;
  }
  for (const [labels, value] of samplesOf(metrics, "smsgw_channel_throttled_total")) {
    now[`${labels.channel} throttled`] = value;
  }
  const up = Object.fromEntries(
    samplesOf(metrics, "smsgw_channel_up").map(([labels, value]) => [labels.channel, value]),
  );
  const storage = health.storage?.error ?? null;
  const before = counted;
  counted = { now, up, storage };
  if (!before) return showErrors(); // the first scrape: the baseline, errors come after it
  const seen = [];
  for (const [key, value] of Object.entries(now)) {
    const last = before.now[key] ?? 0;
    const more = value < last ? value : value - last; // less: the gateway restarted, from 0
    if (more > 0) seen.push(`${key} ×${more}`);
  }
  for (const [channel, value] of Object.entries(up)) {
    if (before.up[channel] === 1 && value === 0) {
      const error = health.channels.find((c) => c.name === channel)?.error;
      seen.push(`${channel} down${error ? `: ${error}` : ""}`);
    }
  }
  if (storage && !before.storage) seen.push(`database cannot be written: ${storage}`);
  const when = new Date();
  recent = [...seen.map((text) => [when, text]), ...recent].slice(0, RECENT);
  return showErrors();
}

function showErrors() {
  const items = recent.map(([when, text]) => {
    const item = document.createElement("li");
    const stamp = document.createElement("time");
    stamp.dateTime = when.toISOString();
    stamp.textContent = clock(when, { seconds: true }); // the gateway's clock, as every time
    stamp.title = date(when);
    item.append(stamp, text);
    return item;
  });
  $("#errors").replaceChildren(...items);
  $("#errors").hidden = items.length === 0;
  $("#errors-empty").hidden = items.length > 0;
}

function showChannels(health) {
  $("#health-status").textContent = health.status;
  $("#health-status").className = `badge health-${health.status}`; // down: the danger colour
  $("#health-status").dataset.status = health.status;
  $("#instance").textContent = health.instance;
  $("#gateways").textContent = `alive: ${health.gateways.join(", ")}`;
  const rows = health.channels.map((channel) => {
    const row = document.createElement("tr");
    const values = [channel.name, channel.carrier, channel.held_by ?? "none", channel.state];
    for (const value of [...values, channel.error ?? ""]) {
      row.insertCell().textContent = value;
    }
    row.dataset.state = channel.state;
    return row;
  });
  $("#channels").replaceChildren(...rows);
  const storage = health.storage?.error;
  $("#storage").textContent = storage ? `cannot be written: ${storage} (sending waits)` : "writable";
  $("#storage").dataset.status = storage ? "failing" : "ok";
}

// The canvas at the screen's pixel density (sharp bars), cleared; [context, scale].
function paper(canvas) {
  const scale = window.devicePixelRatio || 1;
  canvas.width = canvas.clientWidth * scale;
  canvas.height = canvas.clientHeight * scale;
  return [canvas.getContext("2d"), scale];
}

// Segments accepted per second between successive scrapes, as bars, the newest on the right.
function drawRates(samples) {
  // never below 0: a restarted gateway counts from 0 again
  const rates = samples
    .slice(1)
    .map(([t, n], i) => Math.max(0, (n - samples[i][1]) / (t - samples[i][0])));
  if (rates.length === 0) return;
  const canvas = $("#chart");
  const [context, scale] = paper(canvas);
  const peak = Math.max(...rates);
  const slot = canvas.width / BARS;
  context.fillStyle = getComputedStyle(canvas).color;
  rates.forEach((rate, i) => {
    const height = Math.max((rate / Math.max(peak, 1)) * (canvas.height - 4 * scale), scale);
    const x = (BARS - rates.length + i) * slot;
    context.fillRect(x + 1, canvas.height - height, slot - 2, height);
  });
  const now = rates.at(-1).toFixed(1);
  $("#rate").textContent = `Now ${now} SMS/s; peak ${peak.toFixed(1)} SMS/s in the last minute.`;
}

// KPIs

async function showKpis() {
  show("kpis", "KPIs");
  const asked = sessionStorage.getItem(ROLE) !== "operator"; // the inbox is not theirs
  $("#questions").hidden = !asked;
  if (asked) showQuestionFigures();
  let kpis;
  try {
    kpis = await api("/api/v1/kpis");
  } catch (error) {
    return say("#kpis-error", error.message);
  }
  $("#programme-year").textContent = kpis.programme_year;
  const headline = {
    "#kpi-services": kpis.services.active,
    "#kpi-subscribers": kpis.subscribers.active,
    "#kpi-broadcasts": kpis.broadcasts.sent,
  };
  for (const [selector, kpi] of Object.entries(headline)) {
    $(selector).textContent = `${kpi.value} of a target of ${kpi.target}`;
  }
  const b = kpis.broadcasts;
  const percent = (rate) => (rate === null ? "–" : `${(rate * 100).toFixed(1)}%`);
  $("#kpi-delivery").textContent = `${percent(b.delivery_rate)} (${b.delivered} delivered)`;
  $("#kpi-median").textContent =
    b.median_delivery_s === null ? "–" : `${b.median_delivery_s.toFixed(1)} s`;
  $("#kpi-cost").textContent = `${b.segments} SMS, ${b.cost.toFixed(2)} ${b.currency}`;
  $("#kpi-optout").textContent = percent(kpis.subscribers.opt_out_rate);
  const ministries = Object.entries(b.by_ministry).map(([name, n]) => `${name} ${n}`);
  $("#kpi-ministries").textContent = ministries.join(", ") || "none yet";
  const counts = kpis.subscribers.by_service;
  tabulate("#by-service-table", counts.map((s) => [s.service, s.ministry, s.subscribers]));
  drawBars($("#by-service-chart"), counts.map((s) => [s.service, s.subscribers]));
  const daily = kpis.subscribers.daily;
  tabulate("#daily-table", daily.map((d) => [d.period, d.joined, d.left]));
  const top = Math.max(1, ...daily.flatMap((d) => [d.joined, d.left]));
  $("#daily-scale").textContent =
    `${daily[0].period} to ${daily.at(-1).period}; the top of the chart is ${top} a day.`;
  return drawLines($("#daily-chart"), daily.map((d) => [d.joined, d.left]));
}

// One labelled bar per [label, value], scaled to the largest.
function drawBars(canvas, bars) {
  const [context, scale] = paper(canvas);
  if (bars.length === 0) return;
  const peak = Math.max(...bars.map(([, value]) => value), 1);
  const slot = canvas.width / bars.length;
  const label = 16 * scale; // room under the bars for the names
  context.fillStyle = getComputedStyle(canvas).color;
  context.font = `${12 * scale}px system-ui, sans-serif`;
  context.textAlign = "center";
  bars.forEach(([name, value], i) => {
    const height = Math.max((value / peak) * (canvas.height - label - 16 * scale), scale);
    const x = i * slot;
    context.fillRect(x + slot * 0.2, canvas.height - label - height, slot * 0.6, height);
    context.fillText(`${name} ${value}`, x + slot / 2, canvas.height - 4 * scale);
  });
}

// Two lines over the days, [joined, left] each, in the colour and --left colour of the canvas.
function drawLines(canvas, points) {
  const [context, scale] = paper(canvas);
  if (points.length === 0) return;
  const style = getComputedStyle(canvas);
  const peak = Math.max(...points.flat(), 1);
  const step = canvas.width / Math.max(points.length - 1, 1);
  const y = (value) => canvas.height - 2 * scale - (value / peak) * (canvas.height - 6 * scale);
  context.lineWidth = 2 * scale;
  [style.color, style.getPropertyValue("--left").trim()].forEach((colour, series) => {
    context.strokeStyle = colour;
    context.beginPath();
    points.forEach((point, i) => context.lineTo(i * step, y(point[series])));
    context.stroke();
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
