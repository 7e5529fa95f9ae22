// A broadcast's poll: its fields in the composer (question, 2 to 9 options with their words per
// language, closing time) and its results on the broadcast's page, as bars with their numbers.
import { t } from "./i18n.js";
import { $, api, date, languageName, polling, say } from "./page.js";

const MIN_OPTIONS = 2;
const MAX_OPTIONS = 9; // one digit each: what citizens answer
let options = MIN_OPTIONS;
let languages = [];

function input(key, labelText, hint) {
  const id = `poll-${key}`;
  const label = document.createElement("label");
  label.htmlFor = id;
  label.textContent = labelText;
  const box = document.createElement("input");
  Object.assign(box, { id, type: "text", autocomplete: "off", spellcheck: false });
  box.dataset.key = key;
  if (hint) box.setAttribute("aria-describedby", hint);
  return [label, box];
}

// The poll's boxes for the service's languages (what was typed in a language stays).
export function pollFields(codes) {
  languages = codes;
  const kept = new Map(
    [...$("#poll-fields").querySelectorAll("input[data-key]")].map((box) => [
      box.dataset.key,
      box.value,
    ]),
  );
  const name = (code) => ({ language: `${languageName(code, { alone: false })} (${code})` });
  const questions = languages.flatMap((code) =>
    input(`question-${code}`, t("poll.question", name(code)), "poll-question-hint"),
  );
  const groups = [];
  for (let number = 1; number <= options; number += 1) {
    const group = document.createElement("fieldset");
    group.className = "option";
    const legend = document.createElement("legend");
    legend.textContent = t("poll.option", { n: number });
    const boxes = languages.flatMap((code) =>
      input(`option-${number}-${code}`, t("poll.words", name(code)), "poll-words-hint"),
    );
    group.append(legend, ...boxes);
    groups.push(group);
  }
  $("#poll-questions").replaceChildren(...questions);
  $("#poll-options").replaceChildren(...groups);
  for (const box of $("#poll-fields").querySelectorAll("input[data-key]")) {
    box.value = kept.get(box.dataset.key) ?? "";
  }
  $("#add-option").disabled = options >= MAX_OPTIONS;
  $("#remove-option").disabled = options <= MIN_OPTIONS;
}

function turn(on) {
  $("#poll-fields").hidden = !on;
  $("#poll-fields").disabled = !on; // a disabled fieldset's boxes are neither checked nor sent
}

$("#poll-on").addEventListener("change", () => turn($("#poll-on").checked));

$("#add-option").addEventListener("click", () => {
  options = Math.min(options + 1, MAX_OPTIONS);
  pollFields(languages);
  $(`#poll-option-${options}-${languages[0]}`)?.focus();
});

$("#remove-option").addEventListener("click", () => {
  options = Math.max(options - 1, MIN_OPTIONS);
  pollFields(languages);
  $("#remove-option").focus();
});

export function resetPoll() {
  options = MIN_OPTIONS;
  for (const box of $("#poll-fields").querySelectorAll("input")) box.value = "";
  turn(false);
}

const words = (text) =>
  text
    .split(",")
    .map((word) => word.trim())
    .filter(Boolean);

// The body's "poll": undefined without one; null after saying what is missing.
export function pollBody() {
  if (!$("#poll-on").checked) return undefined;
  const closes = $("#poll-closes");
  if (!closes.value) {
    closes.focus();
    say("#compose-error", t("poll.closes_missing"));
    return null;
  }
  const value = (key) => $(`#poll-${key}`)?.value.trim() ?? "";
  const question = {};
  for (const code of languages) {
    if (value(`question-${code}`)) question[code] = value(`question-${code}`);
  }
  const list = [];
  for (let number = 1; number <= options; number += 1) {
    const byLanguage = {};
    for (const code of languages) {
      const found = words(value(`option-${number}-${code}`));
      if (found.length) byLanguage[code] = found;
    }
    list.push({ number, words: byLanguage });
  }
  return { question, options: list, closes_at: closes.value }; // the gateway's clock
}

// Results

const share = (n, total) => (total ? `${((n / total) * 100).toFixed(0)} %` : "0 %");

function label(option) {
  const all = [...new Set(Object.values(option.words).flat())];
  return all.length ? `${option.number} · ${all.join(", ")}` : String(option.number);
}

// A cell: the number and its share in words, a bar for the eye (hidden from screen readers).
function bar(cell, n, total) {
  const text = document.createElement("span");
  text.className = "figure";
  text.textContent = `${n} (${share(n, total)})`;
  const track = document.createElement("span");
  track.className = "bar";
  track.setAttribute("aria-hidden", "true");
  const fill = document.createElement("span");
  fill.style.width = `${total ? (n / total) * 100 : 0}%`; // CSSOM: the CSP forbids style=""
  track.append(fill);
  cell.append(text, track);
}

// Rows of a breakdown: one a group (a language, a district), one column an option.
function breakdown(selector, groups, optionsOf, name) {
  const head = document.createElement("tr");
  for (const text of [name, ...optionsOf.map(label), t("poll.answers")]) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = text;
    head.append(th);
  }
  $(`${selector} thead`).replaceChildren(head);
  const rows = groups.map(([group, counts]) => {
    const row = document.createElement("tr");
    const th = document.createElement("th");
    th.scope = "row";
    th.textContent = group;
    row.append(th);
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    for (const option of optionsOf) bar(row.insertCell(), counts[option.number] ?? 0, total);
    row.insertCell().textContent = total;
    return row;
  });
  $(`${selector} tbody`).replaceChildren(...rows);
}

// Draws the results; true while the poll is open (its page goes on asking).
export async function showPollResults(id, timer) {
  const results = await api(`/api/v1/broadcasts/${id}/poll`);
  if (!polling(timer)) return false;
  $("#poll-results").hidden = false;
  const question = Object.entries(results.question).map(([code, text]) => `${text} (${code})`);
  $("#poll-question").textContent = question.join(" · ");
  $("#poll-question").hidden = question.length === 0;
  const when = date(results.closes_at);
  const state = t(results.open ? "poll.open" : "poll.closed", { when, n: results.answers });
  // a live region: said again only when it changes
  if ($("#poll-state").textContent !== state) $("#poll-state").textContent = state;
  const rows = results.options.map((option) => {
    const row = document.createElement("tr");
    const th = document.createElement("th");
    th.scope = "row";
    th.textContent = label(option);
    row.append(th);
    bar(row.insertCell(), option.count, results.answers);
    return row;
  });
  $("#poll-bars tbody").replaceChildren(...rows);
  const languages = Object.entries(results.by_language).map(([code, counts]) => [
    `${languageName(code)} (${code})`,
    counts,
  ]);
  breakdown("#poll-languages", languages, results.options, t("poll.language"));
  const districts = Object.entries(results.by_district).map(([district, counts]) => [
    district === "none" ? t("poll.not_said") : district,
    counts,
  ]);
  breakdown("#poll-districts", districts, results.options, t("poll.district"));
  return results.open;
}
