// The KPIs view (GET /api/v1/kpis): each headline figure beside this programme year's target,
// with a bar of the way there; delivery and cost; subscribers per service as bars; joins and
// leaves of the last 30 days as lines with date ticks. Every chart's numbers are in its table.
import { barChart, lineChart, number } from "./charts.js";
import { language, t } from "./i18n.js";
import { showQuestionFigures } from "./inbox.js";
import { $, api, ROLE, say, show } from "./page.js";

const DAY_TICK = { day: "numeric", month: "short" };
const DAY = { weekday: "short", day: "numeric", month: "short", year: "numeric" };

export async function showKpis() {
  show("kpis", t("kpis.title"));
  const asked = sessionStorage.getItem(ROLE) !== "operator"; // the inbox is not theirs
  $("#questions").hidden = !asked;
  if (asked) showQuestionFigures();
  let kpis;
  try {
    kpis = await api("/api/v1/kpis");
  } catch (error) {
    return say("#kpis-error", error.message);
  }
  $("#programme-year").textContent = t("kpis.year", { year: kpis.programme_year });
  target("services", kpis.services.active);
  target("subscribers", kpis.subscribers.active);
  target("broadcasts", kpis.broadcasts.sent);
  showDelivery(kpis.broadcasts, kpis.subscribers);
  showByService(kpis.subscribers.by_service);
  return showDaily(kpis.subscribers.daily);
}

const percent = (ratio, digits = 1) =>
  ratio === null
    ? "–"
    : new Intl.NumberFormat(language, {
        style: "percent",
        minimumFractionDigits: digits,
        maximumFractionDigits: digits,
      }).format(ratio);

const fixed = (value, digits) =>
  new Intl.NumberFormat(language, {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(value);

// "2 of a target of 3 (67%)", and a bar of the way there (full, and green, once reached)
function target(name, kpi) {
  const share = kpi.target > 0 ? kpi.value / kpi.target : 1;
  $(`#kpi-${name}`).textContent = t("kpis.of_target", {
    value: number(kpi.value),
    target: number(kpi.target),
    percent: percent(share, 0),
  });
  const bar = $(`#kpi-${name}-bar`);
  bar.max = Math.max(kpi.target, 1);
  bar.value = Math.min(kpi.value, bar.max);
  bar.toggleAttribute("data-met", kpi.value >= kpi.target);
}

function showDelivery(b, subscribers) {
  $("#kpi-delivery").textContent = t("kpis.delivered", {
    rate: percent(b.delivery_rate),
    n: b.delivered,
    count: number(b.delivered),
  });
  $("#kpi-median").textContent =
    b.median_delivery_s === null ? "–" : t("kpis.seconds", { s: fixed(b.median_delivery_s, 1) });
  $("#kpi-cost").textContent = t("kpis.cost_value", {
    sms: number(b.segments),
    cost: fixed(b.cost, 2),
    currency: b.currency,
  });
  $("#kpi-optout").textContent = percent(subscribers.opt_out_rate);
  const ministries = Object.entries(b.by_ministry).map(([name, n]) => `${name} ${number(n)}`);
  $("#kpi-ministries").textContent = ministries.join(", ") || t("kpis.none_yet");
}

function showByService(counts) {
  const head = [t("kpis.service"), t("kpis.ministry"), t("kpis.subscribers")];
  barChart($("#by-service-chart"), {
    caption: t("kpis.by_service"),
    x: { label: head[0] },
    labels: counts.map((s) => s.service),
    series: [{ label: head[2], values: counts.map((s) => s.subscribers), colour: 1 }],
    y: { integer: true },
    empty: t("kpis.no_services"),
    table: { head, rows: counts.map((s) => [s.service, s.ministry, number(s.subscribers)]) },
  });
}

// The days are the gateway's local days ("2026-11-27"): drawn on UTC midnights, so that no
// reader's clock moves one to the day before.
function showDaily(daily) {
  const xs = daily.map((d) => Date.parse(`${d.period}T00:00:00Z`) / 1000);
  const joined = daily.map((d) => d.joined);
  const left = daily.map((d) => d.left);
  lineChart($("#daily-chart"), {
    caption: t("kpis.daily_caption"),
    x: { label: t("kpis.day"), time: true, zone: "UTC", format: DAY_TICK, tip: DAY },
    xs,
    series: [
      { label: t("kpis.joined"), values: joined, colour: 1 },
      { label: t("kpis.left"), values: left, colour: 2 },
    ],
    y: { label: t("kpis.subscriptions"), integer: true },
  });
  const total = (values) => number(values.reduce((a, b) => a + b, 0));
  const day = (d) =>
    new Intl.DateTimeFormat(language, { ...DAY, timeZone: "UTC" }).format(
      new Date(`${d.period}T00:00:00Z`),
    );
  $("#daily-scale").textContent = daily.length
    ? t("kpis.daily_summary", {
        from: day(daily[0]),
        until: day(daily.at(-1)),
        joined: total(joined),
        left: total(left),
      })
    : "";
}
