// Import: a CSV list of numbers signed up to a service. The file is read in the browser (a
// preview, its rows counted) and posted in chunks of CHUNK_ROWS rows, each with the header line,
// so the progress is shown as it goes and a large file never makes one long request; the API's
// line numbers are shifted to the whole file's. The report (every row's outcome) is kept in the
// tab, and downloaded as a CSV made here: no state on the server.
import { t } from "./i18n.js";
import { $, api, ours, say, serviceName, show } from "./page.js";

// data rows a request (the section's data-chunk-rows overrides it): 0.14-0.15 s of the API's
// work on SQLite (bench/import_csv.py --rows 10000, three runs), and each request is an import
// of its own (its confirmations, its audit entry), so few of them: 75,000 numbers are 8
const CHUNK_ROWS = 10000;
const PREVIEW = 5; // rows shown before the import
const LISTED = 100; // rejected and repeated rows shown in the page (the download has them all)
const NEWLINE = 10;
let file = null; // the file read: {name, bytes, starts, lines, header}
let report = null; // what the import did: the API's counts summed, rejections by file line
let running = false;

// The file and its report stay while the person is logged in (another screen and back, another
// language); signed out, they go: the numbers are not the next person's to see.
export function forgetImport() {
  lock(false);
  file = null;
  report = null;
  $("#import-form").reset();
  say("#import-done", "");
  $("#import-progress-box").hidden = true;
  drawPreview();
  drawReport();
}

export async function showImport() {
  show("import", t("import.title"));
  drawPreview();
  drawReport();
  let services;
  try {
    ({ services } = await api("/api/v1/services"));
  } catch (error) {
    return say("#import-error", error.message);
  }
  const select = $("#import-service");
  const chosen = select.value;
  const option = (s) =>
    new Option(`${s.keyword} · ${serviceName(s)}`, s.keyword);
  select.replaceChildren(...ours(services).filter((s) => s.active).map(option));
  if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
  return undefined;
}

// The file's lines as the API reads them: split at each newline byte (a newline never is part
// of another UTF-8 character), so the browser's line numbers are the server's.
async function read(chosen) {
  const bytes = new Uint8Array(await chosen.arrayBuffer());
  const starts = [0];
  for (let at = bytes.indexOf(NEWLINE); at !== -1; at = bytes.indexOf(NEWLINE, at + 1)) {
    starts.push(at + 1);
  }
  const lines = new TextDecoder().decode(bytes).split("\n");
  if (starts.at(-1) === bytes.length) {
    starts.pop(); // the last line's newline ends the file: no line after it
    lines.pop();
  }
  const header = lines.findIndex((line) => line.trim()); // blank lines before it are skipped
  return { name: chosen.name, bytes, starts, lines, header };
}

const blankLine = (line) => !line.trim();
const rowsOf = (lines, header) =>
  header < 0 ? 0 : lines.slice(header + 1).filter((line) => !blankLine(line)).length;

// A CSV line's values (quotes as the API reads them: a line is a row, never more).
function split(line) {
  const text = line.replace(/\r$/, "");
  if (!text.includes('"')) return text.split(",");
  const values = [];
  let value = "";
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const char = text[i];
    if (quoted && char === '"' && text[i + 1] === '"') {
      value += '"';
      i += 1;
    } else if (char === '"') quoted = !quoted;
    else if (char === "," && !quoted) {
      values.push(value);
      value = "";
    } else value += char;
  }
  return [...values, value];
}

$("#import-file").addEventListener("change", async (event) => {
  const [chosen] = event.target.files;
  report = null;
  say("#import-done", "");
  say("#import-error", "");
  $("#import-progress-box").hidden = true;
  file = chosen ? await read(chosen) : null;
  drawPreview();
  drawReport();
});

function drawPreview() {
  $("#import-preview").hidden = !file;
  if (!file) return;
  const rows = rowsOf(file.lines, file.header);
  $("#import-count").textContent = t("import.count", {
    n: rows,
    count: rows.toLocaleString(),
    name: file.name,
  });
  const columns = file.header < 0 ? [] : split(file.lines[file.header].replace(/^\ufeff/, ""));
  const heads = [t("import.line"), ...columns].map((name) => {
    const head = document.createElement("th");
    head.scope = "col";
    head.textContent = name.trim();
    return head;
  });
  const headRow = document.createElement("tr");
  headRow.append(...heads);
  $("#import-preview-table thead").replaceChildren(headRow);
  const shown = [];
  for (let i = file.header + 1; i < file.lines.length && shown.length < PREVIEW; i += 1) {
    if (blankLine(file.lines[i])) continue;
    const row = document.createElement("tr");
    const number = document.createElement("th");
    number.scope = "row";
    number.textContent = i + 1;
    row.append(number);
    for (const value of split(file.lines[i])) row.insertCell().textContent = value;
    shown.push(row);
  }
  $("#import-preview-table tbody").replaceChildren(...shown);
}

// [first line index, end line index, rows] of each request: CHUNK_ROWS rows (blank lines ride
// along, uncounted, as the API skips them).
function chunks(size) {
  const plan = [];
  let first = file.header + 1;
  let rows = 0;
  for (let i = first; i < file.lines.length; i += 1) {
    if (!blankLine(file.lines[i])) rows += 1;
    if (rows === size) {
      plan.push([first, i + 1, rows]);
      first = i + 1;
      rows = 0;
    }
  }
  if (rows) plan.push([first, file.lines.length, rows]);
  return plan;
}

// The header line and the chunk's lines, as they are in the file (bytes: nothing re-encoded).
function body(first, end) {
  const { bytes, starts, header } = file;
  if (header < 0) return new Blob([], { type: "text/csv" }); // nothing but blank lines
  const stop = (index) => (index < starts.length ? starts[index] : bytes.length);
  const head = bytes.subarray(starts[header], stop(header + 1));
  const tail = bytes.subarray(starts[first], stop(end));
  const ended = head.at(-1) === NEWLINE ? [] : ["\n"]; // a file of a header alone
  return new Blob([head, ...ended, tail], { type: "text/csv" });
}

function progress(done, total) {
  const bar = $("#import-progress");
  bar.max = Math.max(total, 1);
  bar.value = done;
  const text = t("import.progress_text", {
    n: total,
    done: done.toLocaleString(),
    total: total.toLocaleString(),
  });
  bar.setAttribute("aria-valuetext", text);
  $("#import-progress-text").textContent = text;
}

$("#import-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!file) return say("#import-error", t("import.no_file"));
  const service = $("#import-service").value;
  const query = new URLSearchParams({
    service,
    consent_source: $("#import-consent").value.trim(),
  });
  const size = Number($("#import").dataset.chunkRows) || CHUNK_ROWS;
  const found = file.header < 0 ? [] : chunks(size);
  const plan = found.length ? found : [[file.header + 1, file.lines.length, 0]]; // the API says
  const total = plan.reduce((sum, [, , rows]) => sum + rows, 0);
  report = { service, rows: 0, joined: 0, already: 0, skipped: 0, rejected: [], more: 0 };
  report.confirmations = [];
  const mine = report; // signed out meanwhile: forgotten, the rest not sent
  say("#import-error", "");
  say("#import-done", "");
  drawReport();
  $("#import-progress-box").hidden = false;
  progress(0, total);
  lock(true);
  let failed = null;
  for (const [first, end] of plan) {
    try {
      const answer = await api(`/api/v1/subscriptions/import?${query}`, {
        method: "POST",
        body: body(first, end),
        headers: { "Content-Type": "text/csv" },
      });
      if (report !== mine) return undefined;
      add(answer, first);
    } catch (error) {
      if (report !== mine) return undefined;
      failed = error;
      break;
    }
    progress(report.rows, total);
  }
  lock(false);
  finish(failed, total);
  return undefined;
});

function lock(on) {
  running = on;
  $("#import-fields").disabled = on;
  $("#import-start").disabled = on;
}

// One chunk's answer added in: its line L is the file's L + first - 1 (the chunk's header is
// its line 1, its first line the file's line first + 1).
function add(answer, first) {
  report.rows += answer.rows;
  report.joined += answer.joined;
  report.already += answer.already;
  report.skipped += answer.opted_out_skipped;
  report.more += answer.rejected_total - answer.rejected.length; // past the API's list
  for (const row of answer.rejected) report.rejected.push({ ...row, line: row.line + first - 1 });
  if (answer.confirmations !== null) report.confirmations.push(answer.confirmations);
}

function finish(failed, total) {
  report.finished = report.rows > 0 || !failed;
  if (failed) {
    const { field, message } = failed;
    const why = field === "body" ? message.replace(/^body: /, "") : message; // the file's fault
    const stopped = report.rows
      ? t("import.stopped", { n: report.rows, done: report.rows.toLocaleString() })
      : "";
    say("#import-error", [why, stopped].filter(Boolean).join(" "), { sticky: true });
  } else {
    say("#import-done", t("import.done", { n: total, count: total.toLocaleString() }), {
      sticky: true,
    });
  }
  drawReport();
  if (report.finished) $("#import-report h2").focus(); // the outcome, read next
}

// Numbers written alike ("+501 601-2345", "+5016012345") are the same; the API also knows a
// local and an international form apart, and counts those in "already".
const sameNumber = (value) => value.replace(/[\s().-]/g, "");

// Every data row's outcome: [line, number, outcome, column, reason].
function outcomes() {
  const last = lastLine(report.rows);
  const rejected = new Map(report.rejected.map((row) => [row.line, row]));
  const column = split(file.lines[file.header].replace(/^\ufeff/, ""))
    .map((name) => name.trim().toLowerCase())
    .indexOf("msisdn");
  const seen = new Map();
  const rows = [];
  for (let i = file.header + 1; i < file.lines.length; i += 1) {
    const line = i + 1;
    if (blankLine(file.lines[i]) || line > last) continue;
    const number = (split(file.lines[i])[column] ?? "").trim();
    const refused = rejected.get(line);
    if (refused) {
      rows.push([line, number, "rejected", refused.field ?? "", refused.reason]);
      continue;
    }
    const key = sameNumber(number);
    if (seen.has(key)) {
      const note = t("import.repeated_of", { line: seen.get(key) });
      rows.push([line, number, "repeated", "msisdn", note]);
    } else {
      seen.set(key, line);
      rows.push([line, number, "accepted", "", ""]);
    }
  }
  return rows;
}

function drawReport() {
  const shown = Boolean(report?.finished && file);
  $("#import-report").hidden = !shown;
  if (!shown) return;
  const all = outcomes();
  const repeated = all.filter((row) => row[2] === "repeated");
  const rejected = report.rejected.length + report.more;
  const facts = {
    "#import-rows": report.rows,
    "#import-joined": report.joined,
    "#import-already": report.already,
    "#import-skipped": report.skipped,
    "#import-rejected": rejected,
    "#import-repeated": repeated.length,
  };
  for (const [selector, value] of Object.entries(facts)) {
    $(selector).textContent = value.toLocaleString();
  }
  table("#import-rejected-table", report.rejected, (row) => [
    row.line,
    row.field ?? "",
    row.value,
    row.reason,
  ]);
  $("#import-rejected-none").hidden = rejected > 0;
  const cut = Math.max(report.rejected.length - LISTED, 0) + report.more;
  $("#import-rejected-more").hidden = cut === 0;
  const more = t("import.more", { n: cut, count: cut.toLocaleString() });
  $("#import-rejected-more").textContent = more;
  table("#import-repeated-table", repeated, ([line, number, , , reason]) => [line, number, reason]);
  $("#import-repeated-none").hidden = repeated.length > 0;
  const links = report.confirmations.map((id) => {
    const link = document.createElement("a");
    link.href = `#/broadcasts/${id}`;
    link.textContent = id;
    return link;
  });
  const said = $("#import-confirmations");
  said.hidden = links.length === 0;
  said.replaceChildren(t("import.confirmations", { n: links.length }), " ");
  links.forEach((link, i) => said.append(...(i ? [", ", link] : [link])));
}

// The file's line of the last row done (a stopped import reports on the rows it read).
function lastLine(rows) {
  if (rows === 0) return file.header + 1; // the header's: no row
  let counted = 0;
  for (let i = file.header + 1; i < file.lines.length; i += 1) {
    if (!blankLine(file.lines[i])) counted += 1;
    if (counted === rows) return i + 1;
  }
  return file.lines.length;
}

// The first LISTED rows in a table's body, the first cell a row header (the line).
function table(selector, rows, cells) {
  const shown = rows.slice(0, LISTED).map((item) => {
    const row = document.createElement("tr");
    const [line, ...rest] = cells(item);
    const head = document.createElement("th");
    head.scope = "row";
    head.textContent = line;
    row.append(head);
    for (const cell of rest) row.insertCell().textContent = cell;
    return row;
  });
  $(`${selector} tbody`).replaceChildren(...shown);
}

// A CSV value: quoted when it holds a comma, a quote or a line break; one a spreadsheet would
// take for a formula starts with an apostrophe (a number's "+" stays: it is no formula).
function cell(value) {
  let text = String(value);
  if (/^[=@\t\r]/.test(text) || /^[+-]\D/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

$("#import-download").addEventListener("click", () => {
  const columns = ["line", "msisdn", "outcome", "column", "reason"];
  const head = columns.map((key) => t(`import.csv.${key}`));
  const rows = outcomes().map(([line, number, outcome, column, reason]) => [
    line,
    number,
    t(`import.outcome.${outcome}`),
    column,
    reason,
  ]);
  const text = [head, ...rows].map((row) => row.map(cell).join(",")).join("\r\n");
  const url = URL.createObjectURL(new Blob([`${text}\r\n`], { type: "text/csv" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = `${t("import.file_name", { service: report.service.toLowerCase() })}.csv`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000); // long after the download has begun
});
