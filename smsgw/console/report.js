// A broadcast's delivery report: its recipients counted by state, carrier, language, district
// and error (GET /api/v1/broadcasts/{id}/report), a table each, and the download of a row per
// recipient (report.csv). A person's session cookie goes with a plain link; a tab logged in
// with a token sends it as a header, which a link cannot: that tab fetches the file instead.
import { t } from "./i18n.js";
import { stateWords } from "./messages.js";
import { $, api, languageName, say, show, TOKEN } from "./page.js";

// the breakdowns, each a table: [field, how its names read]
const BREAKDOWNS = [
  ["by_carrier", (name) => (name === "none" ? t("report.no_carrier") : name)],
  ["by_language", (code) => `${languageName(code)} (${code})`],
  ["by_district", (name) => (name === "none" ? t("report.no_district") : name)],
  ["by_error", (code) => code],
];
let shown = null; // the broadcast whose report is shown

export async function showReport(id) {
  show("report", t("report.title", { id }));
  shown = id;
  $("#report-title").textContent = t("report.title", { id });
  $("#report-back").href = `#/broadcasts/${id}`;
  $("#report-summary").textContent = "";
  $("#report-download").hidden = true;
  $("#report-csv-status").textContent = "";
  $("#report-tables").replaceChildren();
  let report;
  try {
    report = await api(`/api/v1/broadcasts/${id}/report`);
  } catch (error) {
    return say("#report-error", error.message);
  }
  if (shown !== id) return undefined; // another report was asked for meanwhile
  $("#report-summary").textContent = report.recipients
    ? t("report.summary", { n: report.recipients })
    : t("report.none_yet");
  $("#report-csv").href = `/api/v1/broadcasts/${id}/report.csv`;
  $("#report-csv").download = `broadcast-${id}.csv`;
  $("#report-download").hidden = false;
  if (!report.recipients) return undefined;
  const states = Object.keys(report.by_state); // the columns: the most common state first
  const total = report.recipients;
  const shares = Object.entries(report.by_state).map(([state, n]) => [
    stateWords(state),
    n,
    `${((n / total) * 100).toFixed(1)} %`,
  ]);
  const parts = [
    table("by_state", [t("report.state"), t("report.recipients"), t("report.share")], shares),
  ];
  for (const [field, named] of BREAKDOWNS) {
    const rows = report[field].map((row) => [
      named(row.name),
      row.recipients,
      ...states.map((state) => row.by_state[state] ?? 0),
    ]);
    const head = [t(`report.${field}.name`), t("report.recipients"), ...states.map(stateWords)];
    parts.push(rows.length ? table(field, head, rows) : none(field));
  }
  $("#report-tables").replaceChildren(...parts.flat());
  return undefined;
}

// [heading, table] of one breakdown, named by its heading; its first cells head their rows.
function table(field, head, rows) {
  const heading = document.createElement("h2");
  heading.id = `report-${field}-title`;
  heading.textContent = t(`report.${field}`);
  const node = document.createElement("table");
  node.id = `report-${field}`;
  node.setAttribute("aria-labelledby", heading.id);
  const top = node.createTHead().insertRow();
  for (const text of head) {
    const cell = document.createElement("th");
    cell.scope = "col";
    cell.textContent = text;
    top.append(cell);
  }
  const body = node.createTBody();
  for (const cells of rows) {
    const row = body.insertRow();
    const [name, ...counts] = cells;
    const first = document.createElement("th");
    first.scope = "row";
    first.textContent = name;
    row.append(first);
    for (const value of counts) row.insertCell().textContent = value;
  }
  const box = document.createElement("div");
  box.className = "scroll";
  box.append(node);
  return [heading, box];
}

// [heading, words]: a breakdown with nothing to count (no error: every recipient without one)
function none(field) {
  const heading = document.createElement("h2");
  heading.textContent = t(`report.${field}`);
  const words = document.createElement("p");
  words.id = `report-${field}`;
  words.textContent = t(`report.${field}.none`);
  return [heading, words];
}

// A tab logged in with a token: the file fetched with it, then saved under its name.
$("#report-csv").addEventListener("click", async (event) => {
  const token = sessionStorage.getItem(TOKEN);
  if (token === null) return; // a person's session cookie goes with the link itself
  event.preventDefault();
  const link = event.currentTarget;
  $("#report-csv-status").textContent = t("report.fetching");
  let blob;
  try {
    const response = await fetch(link.href, { headers: { Authorization: `Bearer ${token}` } });
    if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
    blob = await response.blob();
  } catch (error) {
    $("#report-csv-status").textContent = "";
    return say("#report-error", error.message);
  }
  const save = document.createElement("a");
  save.href = URL.createObjectURL(blob);
  save.download = link.download;
  save.hidden = true;
  document.body.append(save);
  save.click();
  save.remove();
  setTimeout(() => URL.revokeObjectURL(save.href), 60_000); // the download has begun by then
  $("#report-csv-status").textContent = t("report.saved");
  return undefined;
});

// The broadcast page's link to its report (that page is app.js's: its address says which).
function linkFromBroadcast() {
  const match = location.hash.match(/^#\/broadcasts\/(\d+)$/);
  if (match) $("#broadcast-report").href = `#/broadcasts/${match[1]}/report`;
}
window.addEventListener("hashchange", linkFromBroadcast);
linkFromBroadcast();
