// The message log (an admin's; an operator's with numbers masked): single messages, the newest
// first, filtered as the API allows (state, number, since, token), a page at a time; and one
// message's history: each state with its time, and the carrier's error. The filters live in
// the address (#/messages?state=…).
import { language, t } from "./i18n.js";
import { $, api, badge, date, filtering, say, show, time, timeZone } from "./page.js";

const PAGE = 50;
const FILTERS = ["state", "to", "since", "token"]; // as the API's
// smsgw/delivery/message.py's MessageState
export const STATES = ["queued", "submitted", "delivered", "undeliverable", "expired",
  "rejected", "failed", "cancelled", "unknown"];
let list = "#/messages"; // the list last shown, with its filters: where "Back" leads

// a message state in words (a receipt's state or an event of the history: as the API says it)
export function stateWords(state) {
  return STATES.includes(state) ? t(`messages.state.${state}`) : state;
}
const stateBadge = (state) => {
  const node = badge(stateWords(state), "delivery");
  node.dataset.state = state;
  return node;
};

export async function showMessages(params) {
  show("messages", t("messages.title"));
  list = location.hash || "#/messages";
  const form = $("#messages-filters");
  const [any] = form.elements.state.options; // its words: the page's (data-t)
  form.elements.state.replaceChildren(any, ...STATES.map((s) => new Option(stateWords(s), s)));
  for (const name of FILTERS) form.elements[name].value = params.get(name) ?? "";
  $("#messages-since-hint").textContent = t("messages.since_hint", { zone: timeZone() });
  const query = new URLSearchParams({ limit: PAGE });
  for (const name of [...FILTERS, "cursor"]) {
    if (params.get(name)) query.set(name, params.get(name));
  }
  let page;
  try {
    page = await api(`/api/v1/messages?${query}`);
  } catch (error) {
    return say("#messages-error", error.message);
  }
  $("#message-rows").replaceChildren(...page.messages.map(row));
  $("#messages-empty").hidden = page.messages.length > 0;
  const older = new URLSearchParams(params);
  const newest = new URLSearchParams(params);
  newest.delete("cursor");
  if (page.next !== null) older.set("cursor", page.next);
  $("#messages-older").hidden = page.next === null;
  $("#messages-older").href = `#/messages?${older}`;
  $("#messages-newest").hidden = !params.has("cursor");
  $("#messages-newest").href = newest.size ? `#/messages?${newest}` : "#/messages";
  return undefined;
}

function row(message) {
  const node = document.createElement("tr");
  const link = document.createElement("a");
  link.href = `#/messages/${encodeURIComponent(message.id)}`;
  link.textContent = message.id;
  node.insertCell().append(link);
  node.insertCell().textContent = message.to;
  node.insertCell().append(stateBadge(message.state));
  node.insertCell().textContent = message.error ?? "—";
  node.insertCell().textContent = message.parts;
  node.insertCell().textContent = message.channel ?? "—";
  node.insertCell().append(time(message.created_at, { short: true }));
  node.insertCell().textContent = message.created_by ?? t("messages.reply");
  return node;
}

filtering($("#messages-filters"), FILTERS, "#/messages"); // since: on the gateway's clock

// One message

export async function showMessage(id) {
  const name = decodeURIComponent(id);
  show("message", t("message.title", { id: name }));
  $("#message-title").textContent = t("message.title", { id: name });
  $("#message-back").href = list;
  let message;
  try {
    message = await api(`/api/v1/messages/${encodeURIComponent(name)}`);
  } catch (error) {
    return say("#message-error", error.message);
  }
  const values = {
    to: message.to,
    state: stateBadge(message.state),
    error: message.error ?? "—",
    parts: String(message.parts),
    encoding: message.encoding,
    channel: message.channel ?? "—",
    created_at: date(message.created_at),
    updated_at: date(message.updated_at),
    created_by: message.created_by ?? t("messages.reply"),
  };
  for (const node of document.querySelectorAll("#message [data-message]")) {
    node.replaceChildren(values[node.dataset.message]);
  }
  const rows = message.history.map((entry) => {
    const node = document.createElement("tr");
    node.insertCell().append(instant(entry.at));
    node.insertCell().textContent = stateWords(entry.state);
    node.insertCell().textContent = entry.detail ?? "—";
    return node;
  });
  $("#message-history tbody").replaceChildren(...rows);
  return undefined;
}

// <time> to the second, on the gateway's clock (a history's steps are seconds apart)
function instant(value) {
  const node = document.createElement("time");
  node.dateTime = value;
  node.textContent = new Date(value).toLocaleString(language, {
    year: "numeric", month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit",
    second: "2-digit", hourCycle: "h23", timeZone: timeZone(), timeZoneName: "short",
  });
  node.title = date(value);
  return node;
}
