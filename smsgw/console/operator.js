// The operator's view: the binds (GET /healthz); the last hour of throughput per bind beside
// its cap, and of the queue depth (GET /api/v1/operator/history: the gateway samples them, so
// the charts have their history the moment the page opens); and what went wrong since the page
// opened, from the increases of the counters of GET /metrics between two scrapes.
import { lineChart, number } from "./charts.js";
import { t } from "./i18n.js";
import { $, api, clock, date, POLL_MS, poll, polling, say, show, timeZone } from "./page.js";

const RECENT = 20; // the recent errors kept, the newest first
const PRIORITIES = ["emergency", "normal"]; // the outbox's, as GET /metrics labels them
const TICK = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
const TIP = { ...TICK, second: "2-digit" };
let counted = null; // the error counters and bind states of the last scrape (null: none yet)
let recent = []; // [when, key, vars] of what went wrong since, the newest first

// Logged out: nothing of the last user's stays for the next.
export function forgetErrors() {
  counted = null;
  recent = [];
}

export function showOperator() {
  show("operator", t("operator.title"));
  let read = -Infinity; // when the history was last read (ms): the gateway samples every every_s
  let every = 0;
  poll(POLL_MS, async (id) => {
    const due = performance.now() - read >= every * 1000;
    let health;
    let metrics;
    let history;
    try {
      [health, metrics, history] = await Promise.all([
        fetch("/healthz").then((response) => response.json()),
        fetch("/metrics").then((response) => response.text()),
        due ? api("/api/v1/operator/history") : null,
      ]);
    } catch (error) {
      return say("#operator-error", error.message);
    }
    if (!polling(id)) return;
    say("#operator-error", "");
    showChannels(health);
    $("#queued").textContent = number(sum(metrics, /^smsgw_outbox_queued\{[^}]*\} (\S+)$/gm));
    noteErrors(metrics, health);
    if (history) {
      read = performance.now();
      every = history.every_s;
      showHistory(history);
    }
  });
  showErrors();
}

function sum(text, pattern) {
  return [...text.matchAll(pattern)].reduce((total, match) => total + Number(match[1]), 0);
}

const rate = (value) => t("operator.per_second", { n: number(value) });

// The binds charted: those this gateway holds, and any it sent on in the hour (a lease moved).
function showHistory(history) {
  const { samples } = history;
  const xs = samples.map((sample) => Date.parse(sample.at) / 1000);
  const sent = (bind) => samples.some((sample) => sample.submits_per_s[bind.name] > 0);
  const binds = history.binds.filter((bind) => bind.held || sent(bind));
  const rates = binds.map((bind) => samples.map((sample) => sample.submits_per_s[bind.name] ?? 0));
  const series = binds.flatMap((bind, i) => {
    const colour = (i % 6) + 1; // a bind and its cap alike, the cap dashed
    const cap = { label: t("operator.cap", { bind: bind.name }), values: xs.map(() => bind.tps) };
    const line = { label: bind.name, values: rates[i], colour, format: rate };
    return bind.tps > 0 ? [line, { ...cap, colour, dash: true, format: rate }] : [line];
  });
  const caps = binds
    .filter((bind) => bind.tps > 0)
    .map((bind) => t("operator.cap_of", { bind: bind.name, n: number(bind.tps) }));
  const x = { label: t("operator.time"), time: true, zone: timeZone(), format: TICK, tip: TIP };
  const empty = t("operator.no_samples", { s: number(history.every_s) });
  lineChart($("#throughput-chart"), {
    caption: [t("operator.throughput_caption"), ...caps].join(" "),
    x,
    xs,
    series,
    y: { label: t("operator.sms_per_second") },
    empty,
    table: {
      head: [x.label, ...binds.map((bind) => bind.name)],
      rows: samples
        .map((sample, i) => [
          clock(sample.at, { seconds: true }),
          ...rates.map((values) => rate(values[i])),
        ])
        .reverse(), // the newest first
    },
  });
  showRate(samples, binds);
  say(
    "#sampled",
    binds.length
      ? t("operator.sampled", { instance: history.instance, s: number(history.every_s) })
      : t("operator.no_binds", { instance: history.instance }),
  );
  lineChart($("#queue-chart"), {
    caption: t("operator.queue_caption"),
    x,
    xs,
    series: PRIORITIES.map((priority, i) => ({
      label: t(`operator.priority.${priority}`),
      values: samples.map((sample) => sample.queued?.[priority] ?? null), // null: not read
      colour: i === 0 ? 2 : 1, // emergencies in the danger colour
      format: (value) => (value === null ? t("operator.not_read") : number(value)),
    })),
    y: { label: t("operator.messages"), integer: true },
    empty,
    table: { newestFirst: true },
  });
}

function showRate(samples, binds) {
  const total = (sample) => binds.reduce((n, b) => n + (sample.submits_per_s[b.name] ?? 0), 0);
  if (!samples.length) {
    $("#rate").textContent = t("operator.measuring");
    return;
  }
  const peak = Math.max(...samples.map(total));
  const now = total(samples.at(-1));
  $("#rate").textContent = t("operator.rate", { now: number(now), peak: number(peak) });
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
  const now = {}; // a counter's key → [its value, the text key and values that say it]
  for (const [labels, value] of samplesOf(metrics, "smsgw_submits_total")) {
    const { channel, status } = labels;
    if (status === "ok") continue;
    now[`${channel} ${status}`] = [value, "operator.failed", { channel, status }];
  }
  for (const [labels, value] of samplesOf(metrics, "smsgw_channel_throttled_total")) {
    const { channel } = labels;
    now[`${channel} throttled`] = [value, "operator.throttled", { channel }];
  }
  const up = Object.fromEntries(
    samplesOf(metrics, "smsgw_channel_up").map(([labels, value]) => [labels.channel, value]),
  );
  const storage = health.storage?.error ?? null;
  const before = counted;
  counted = { now, up, storage };
  if (!before) return showErrors(); // the first scrape: the baseline, errors come after it
  const seen = [];
  for (const [key, [value, text, vars]] of Object.entries(now)) {
    const last = before.now[key]?.[0] ?? 0;
    const more = value < last ? value : value - last; // less: the gateway restarted, from 0
    if (more > 0) seen.push([text, { ...vars, n: more }]);
  }
  for (const [channel, value] of Object.entries(up)) {
    if (before.up[channel] === 1 && value === 0) {
      const error = health.channels.find((c) => c.name === channel)?.error;
      seen.push(error ? ["operator.down_why", { channel, error }] : ["operator.down", { channel }]);
    }
  }
  if (storage && !before.storage) seen.push(["operator.storage_failed", { error: storage }]);
  const when = new Date();
  recent = [...seen.map(([text, vars]) => [when, text, vars]), ...recent].slice(0, RECENT);
  return showErrors();
}

function showErrors() {
  const items = recent.map(([when, text, vars]) => {
    const item = document.createElement("li");
    const stamp = document.createElement("time");
    stamp.dateTime = when.toISOString();
    stamp.textContent = clock(when, { seconds: true }); // the gateway's clock, as every time
    stamp.title = date(when);
    item.append(stamp, t(text, vars)); // in the language shown now
    return item;
  });
  $("#errors").replaceChildren(...items);
  $("#errors").hidden = items.length === 0;
  $("#errors-empty").hidden = items.length > 0;
}

function showChannels(health) {
  const status = $("#health-status");
  status.textContent = t(`operator.health.${health.status}`);
  status.className = `badge health-${health.status}`; // down: the danger colour
  status.dataset.status = health.status;
  $("#instance").textContent = health.instance;
  $("#gateways").textContent = health.gateways.join(", ");
  const rows = health.channels.map((channel) => {
    const row = document.createElement("tr");
    const holder = channel.held_by ?? t("operator.held_by_none");
    const values = [channel.name, channel.carrier, holder, t(`operator.link.${channel.state}`)];
    for (const value of [...values, channel.error ?? ""]) {
      row.insertCell().textContent = value;
    }
    row.dataset.state = channel.state;
    return row;
  });
  $("#channels").replaceChildren(...rows);
  const storage = health.storage?.error;
  $("#storage").textContent = storage
    ? t("operator.not_writable", { error: storage })
    : t("operator.writable");
  $("#storage").dataset.status = storage ? "failing" : "ok";
}
