// The inbox: citizens' questions to the user's ministry, one ticket's conversation, and the
// answer, note, assignment and closing of it; the questions' figures on the KPIs page.
import { t } from "./i18n.js";
import {
  $,
  api,
  badge,
  count,
  date,
  duration,
  go,
  languageName,
  ours,
  POLL_MS,
  poll,
  polling,
  say,
  show,
  tabulate,
  time,
} from "./page.js";

const FILTERS = ["service", "state", "assigned", "overdue", "cursor", "limit"]; // as the API's
let list = "#/inbox"; // the list last shown, with its filters: where "Back to the inbox" leads
let shown = ""; // the JSON last drawn: a poll that brings nothing new redraws nothing
let ticket = null; // the ticket shown
let acting = false; // a request of the user's on its way: no second one meanwhile
let asked = 0; // requests of the thread made, numbered: an older answer never overdraws a newer
let drawn = 0;

// The inbox's services: the user's ministry's (an admin's: all), for the filter.
async function ownServices() {
  return ours((await api("/api/v1/services")).services);
}

// the state in words, and "Overdue" beside it: never told by colour alone
function stateOf(question) {
  const nodes = [t(`ticket.state.${question.state}`)];
  if (question.overdue) nodes.push(" ", badge(t("inbox.overdue"), "overdue"));
  return nodes;
}

export async function showInbox(params) {
  show("inbox", t("inbox.title"));
  list = location.hash || "#/inbox";
  const form = $("#inbox-filters");
  form.elements.state.value = params.get("state") ?? "";
  form.elements.assigned.checked = params.get("assigned") === "me";
  form.elements.overdue.checked = params.get("overdue") === "true";
  const query = new URLSearchParams();
  for (const name of FILTERS) if (params.get(name)) query.set(name, params.get(name));
  shown = "";
  poll(POLL_MS, async (id) => {
    let page;
    try {
      page = await api(`/api/v1/inbox?${query}`);
    } catch (error) {
      return say("#inbox-error", error.message);
    }
    if (!polling(id)) return null;
    say("#inbox-error", "");
    return showTickets(page, params);
  });
  let services;
  try {
    services = await ownServices();
  } catch (error) {
    return say("#inbox-error", error.message);
  }
  const select = form.elements.service;
  const all = new Option(t("inbox.every_service"), "");
  select.replaceChildren(all, ...services.map((s) => new Option(s.keyword, s.keyword)));
  select.value = params.get("service") ?? "";
  return null;
}

function showTickets(page, params) {
  const drawn = JSON.stringify(page);
  if (drawn === shown) return; // redrawn, a focused link would lose the focus
  shown = drawn;
  const rows = page.tickets.map((question) => {
    const row = document.createElement("tr");
    row.toggleAttribute("data-overdue", question.overdue);
    const link = document.createElement("a");
    link.href = `#/inbox/${question.id}`;
    link.textContent = question.ticket;
    row.insertCell().append(link);
    row.insertCell().append(...stateOf(question));
    row.insertCell().textContent = question.service;
    row.insertCell().textContent = question.msisdn;
    row.insertCell().textContent = question.language;
    row.insertCell().textContent = question.assigned_to ?? t("inbox.no_one");
    row.insertCell().append(time(question.last_text_at, { short: true }));
    const due = row.insertCell();
    const answered = question.first_answer_at;
    if (answered) due.append(`${t("inbox.answered")} `, time(answered, { short: true }));
    else if (question.due_at) due.append(time(question.due_at, { short: true }));
    else due.textContent = "—";
    return row;
  });
  $("#tickets").replaceChildren(...rows);
  $("#inbox-empty").hidden = rows.length > 0;
  const older = new URLSearchParams(params);
  const newest = new URLSearchParams(params);
  newest.delete("cursor");
  if (page.next !== null) older.set("cursor", page.next);
  $("#inbox-older").hidden = page.next === null;
  $("#inbox-older").href = `#/inbox?${older}`;
  $("#inbox-newest").hidden = !params.has("cursor");
  $("#inbox-newest").href = newest.size ? `#/inbox?${newest}` : "#/inbox";
}

// A changed filter shows its first page (the address keeps the filters: Back, a bookmark).
$("#inbox-filters").addEventListener("change", () => {
  const form = $("#inbox-filters");
  const params = new URLSearchParams();
  const limit = new URLSearchParams(location.hash.split("?")[1] ?? "").get("limit");
  if (form.elements.service.value) params.set("service", form.elements.service.value);
  if (form.elements.state.value) params.set("state", form.elements.state.value);
  if (form.elements.assigned.checked) params.set("assigned", "me");
  if (form.elements.overdue.checked) params.set("overdue", "true");
  if (limit) params.set("limit", limit);
  go(params.size ? `#/inbox?${params}` : "#/inbox");
});
$("#inbox-filters").addEventListener("submit", (event) => event.preventDefault());

// One ticket

export function showTicket(id) {
  show("ticket", t("ticket.title", { id }));
  $("#ticket-back").href = list;
  $("#ticket-number").textContent = `#${id}`;
  say("#ticket-done", "");
  for (const form of ["#answer-form", "#note-form", "#assign-form"]) $(form).reset();
  count($("#answer"), $("#answer-count"));
  ticket = null;
  shown = "";
  poll(POLL_MS, async (timer) => {
    const mine = ++asked;
    let thread;
    try {
      thread = await api(`/api/v1/inbox/${id}`);
    } catch (error) {
      return say("#ticket-error", error.message);
    }
    if (!polling(timer) || mine < drawn) return; // an action's answer came meanwhile
    drawn = mine;
    if (!$("#ticket-error").hasAttribute("data-sticky")) say("#ticket-error", "");
    showThread(thread);
  });
}

function showThread(thread) {
  const drawn = JSON.stringify(thread);
  if (drawn === shown) return;
  shown = drawn;
  const first = ticket?.id !== thread.ticket.id;
  ticket = thread.ticket;
  showFacts(thread.ticket);
  const stopped = $("#ticket-stopped");
  stopped.hidden = !thread.stopped_at;
  if (thread.stopped_at) {
    stopped.textContent = t("ticket.stopped", { when: date(thread.stopped_at) });
  }
  $("#thread").replaceChildren(...thread.entries.map(entryOf));
  const closed = ticket.state === "closed";
  $("#answer-form").hidden = closed;
  $("#answer-closed").hidden = !closed;
  $("#close-ticket").hidden = closed;
  $("#reopen-ticket").hidden = !closed;
  if (first) showCanned(ticket);
}

function showFacts(question) {
  const values = {
    service: question.service,
    msisdn: question.msisdn,
    language: `${languageName(question.language)} (${question.language})`,
    assigned_to: question.assigned_to ?? t("inbox.no_one"),
    opened_at: date(question.opened_at),
    due_at: question.due_at ? date(question.due_at) : "—",
    first_answer_at: question.first_answer_at
      ? date(question.first_answer_at)
      : t("ticket.not_yet"),
  };
  for (const node of $("#ticket").querySelectorAll("[data-ticket]")) {
    const field = node.dataset.ticket;
    if (field === "state") node.replaceChildren(...stateOf(question));
    else if (field === "broadcast") {
      node.replaceChildren();
      if (question.broadcast === null) node.textContent = t("ticket.asked");
      else {
        const link = document.createElement("a");
        link.href = `#/broadcasts/${question.broadcast}`;
        link.textContent = t("ticket.broadcast", { id: question.broadcast });
        node.append(link);
      }
    } else node.textContent = values[field];
  }
}

const EVENTS = {
  assigned: (e) =>
    e.text ? t("ticket.event.assigned", { name: e.text }) : t("ticket.event.unassigned"),
  closed: () => t("ticket.event.closed"),
  reopened: () => t("ticket.event.reopened"),
};

// One entry of the thread: whose it is in words (Citizen, Answer, Internal note), then the text.
function entryOf(entry) {
  const item = document.createElement("li");
  item.className = `entry ${entry.kind}`;
  const head = document.createElement("p");
  head.className = "who";
  const label = document.createElement("strong");
  if (entry.kind in EVENTS) {
    label.textContent = entry.by ?? t("ticket.someone");
    head.append(label, ` ${EVENTS[entry.kind](entry)} · `, time(entry.at));
    item.append(head);
    return item;
  }
  const labels = {
    question: () => t("ticket.citizen"),
    answer: () => t("ticket.answer_by", { name: entry.by }),
    note: () => t("ticket.note_by", { name: entry.by }),
  };
  label.textContent = labels[entry.kind]?.() ?? entry.kind;
  head.append(label, " · ", time(entry.at));
  if (entry.kind === "answer") {
    const state = entry.state ?? "unknown";
    const delivery = badge(t("ticket.delivery", { state: t(`delivery.${state}`) }), "delivery");
    delivery.dataset.state = state;
    head.append(" · ", delivery);
  }
  const text = document.createElement("p");
  text.className = "text";
  text.textContent = entry.text;
  item.append(head, text);
  return item;
}

// The canned answers in the citizen's language, of the ticket's ministry (an admin reads all).
async function showCanned(question) {
  const field = $("#canned-field");
  field.hidden = true;
  let answers;
  try {
    const language = encodeURIComponent(question.language);
    ({ answers } = await api(`/api/v1/inbox/canned?language=${language}`));
  } catch (error) {
    return say("#ticket-error", error.message);
  }
  if (ticket?.id !== question.id) return null; // another ticket meanwhile
  const ministry = question.ministry.toLowerCase();
  const own = answers.filter((a) => a.ministry.toLowerCase() === ministry);
  const options = own.map((a) => Object.assign(new Option(a.title, a.title), { answer: a.text }));
  const language = languageName(question.language, { alone: false });
  const none = new Option(t("ticket.choose", { language }), "");
  $("#canned").replaceChildren(none, ...options);
  field.hidden = own.length === 0;
  return null;
}

$("#canned").addEventListener("change", () => {
  const chosen = $("#canned").selectedOptions[0];
  if (!chosen?.value) return;
  $("#answer").value = chosen.answer; // a start: the officer may change it before sending
  count($("#answer"), $("#answer-count"));
  $("#answer").focus();
});
$("#answer").addEventListener("input", () => count($("#answer"), $("#answer-count")));

// POST to the ticket; its answer (the thread) is drawn. Every button waits meanwhile.
async function act(path, body, done) {
  if (acting || !ticket) return false;
  acting = true;
  const buttons = [...$("#ticket").querySelectorAll("button")];
  for (const button of buttons) button.disabled = true;
  $("#ticket").setAttribute("aria-busy", "true");
  const mine = ++asked;
  try {
    const options = { method: "POST", ...(body ? { body: JSON.stringify(body) } : {}) };
    const thread = await api(`/api/v1/inbox/${ticket.id}/${path}`, options);
    drawn = mine;
    say("#ticket-error", "");
    say("#ticket-done", done);
    showThread(thread);
    return true;
  } catch (error) {
    say("#ticket-done", "");
    say("#ticket-error", error.message, { sticky: true });
    return false;
  } finally {
    acting = false;
    for (const button of buttons) button.disabled = false;
    $("#ticket").removeAttribute("aria-busy");
  }
}

$("#answer-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!(await act("answer", { text: $("#answer").value }, t("ticket.sent")))) return;
  $("#answer-form").reset();
  count($("#answer"), $("#answer-count"));
});

$("#note-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (await act("note", { text: $("#note").value }, t("ticket.noted"))) $("#note-form").reset();
});

$("#assign-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const to = $("#assignee").value.trim();
  if (await act("assign", { to }, t("ticket.assigned", { name: to }))) $("#assign-form").reset();
});

$("#assign-me").addEventListener("click", () =>
  act("assign", { to: "me" }, t("ticket.assigned_me")),
);
$("#unassign").addEventListener("click", () =>
  act("assign", { to: null }, t("ticket.unassigned")),
);

$("#close-ticket").addEventListener("click", async () => {
  if (await act("close", null, t("ticket.closed"))) $("#reopen-ticket").focus(); // kept when hidden
});

$("#reopen-ticket").addEventListener("click", async () => {
  if (await act("reopen", null, t("ticket.reopened"))) $("#close-ticket").focus();
});

// The questions' figures (KPIs page): received, answered, how soon, overdue.

export async function showQuestionFigures() {
  let kpis;
  try {
    kpis = await api("/api/v1/inbox/kpis");
  } catch (error) {
    return say("#questions-error", error.message);
  }
  const figures = (f) => [f.received, f.answered, duration(f.median_first_answer_s), f.overdue];
  const services = kpis.services.map((f) => [f.service, f.ministry, ...figures(f)]);
  tabulate("#questions-by-service", services);
  const ministries = Object.entries(kpis.ministries);
  tabulate("#questions-by-ministry", ministries.map(([name, f]) => [name, ...figures(f)]));
  const period = { from: date(kpis.since), until: date(kpis.until) };
  $("#questions-period").textContent = t("inbox.period", period);
  return null;
}
