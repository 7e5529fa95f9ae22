// The audit log (an admin's): who did what, the newest first, filtered by action, who, what it
// was done to and days on the gateway's clock; a page at a time. The filters live in the
// address (#/audit?action=…&before=…): Back and a bookmark keep them.
import { t } from "./i18n.js";
import { $, api, filtering, say, show, time, timeZone } from "./page.js";

const PAGE = 50;
const FILTERS = ["action", "by", "target", "from", "to"];
// smsgw/access/audit.py's AuditAction, in the order of the API's enum
const ACTIONS = [
  "broadcast_created", "broadcast_approved", "broadcast_cancelled", "service_created",
  "service_updated", "token_issued", "token_revoked", "subscriber_signed_up",
  "subscriber_removed", "subscribers_imported", "subscriber_looked_up", "message_sent",
  "messages_sent", "alert_received", "alert_refused", "ticket_answered", "person_created",
  "person_updated", "logged_in", "login_failed", "logged_out", "totp_enrolled",
  "password_changed",
];

// "2026-03-04" and the day after it ("2026-03-05"), as the date box writes days
function nextDay(day) {
  const [year, month, date] = day.split("-").map(Number);
  return new Date(Date.UTC(year, month - 1, date + 1)).toISOString().slice(0, 10);
}

// The API's query of the address's: days become instants on the gateway's clock (a time
// without an offset is read in its zone), "to" a whole day.
function query(params) {
  const asked = new URLSearchParams({ limit: PAGE });
  for (const name of ["action", "by", "target", "before"]) {
    if (params.get(name)) asked.set(name, params.get(name));
  }
  if (params.get("from")) asked.set("since", params.get("from"));
  if (params.get("to")) asked.set("until", nextDay(params.get("to")));
  return asked;
}

export async function showAudit(params) {
  show("audit", t("audit.title"));
  const form = $("#audit-filters");
  const [any] = form.elements.action.options; // its words: the page's (data-t)
  const options = ACTIONS.map((action) => new Option(t(`audit.action.${action}`), action));
  form.elements.action.replaceChildren(any, ...options);
  for (const name of FILTERS) form.elements[name].value = params.get(name) ?? "";
  $("#audit-days-hint").textContent = t("audit.days_hint", { zone: timeZone() });
  let entries;
  try {
    ({ entries } = await api(`/api/v1/audit?${query(params)}`));
  } catch (error) {
    return say("#audit-error", error.message);
  }
  $("#audit-rows").replaceChildren(...entries.map(row));
  $("#audit-empty").hidden = entries.length > 0;
  const older = new URLSearchParams(params);
  const newest = new URLSearchParams(params);
  newest.delete("before");
  if (entries.length === PAGE) older.set("before", entries.at(-1).id);
  $("#audit-older").hidden = entries.length < PAGE;
  $("#audit-older").href = `#/audit?${older}`;
  $("#audit-newest").hidden = !params.has("before");
  $("#audit-newest").href = newest.size ? `#/audit?${newest}` : "#/audit";
  return undefined;
}

// "role: operator; expires_at: …": the entry's detail as the API gives it (its own words)
function detail(entry) {
  return Object.entries(entry.detail)
    .filter(([, value]) => value !== null && value !== undefined)
    .map(([key, value]) => `${key}: ${typeof value === "object" ? JSON.stringify(value) : value}`)
    .join("; ");
}

function row(entry) {
  const node = document.createElement("tr");
  node.dataset.id = entry.id;
  node.insertCell().append(time(entry.at, { short: true }));
  const who = node.insertCell();
  who.textContent = entry.person ?? entry.actor;
  if (entry.person) who.title = entry.actor; // the token or session it was done with
  const role = entry.role ? t(`tokens.role.${entry.role}`) : "—";
  node.insertCell().textContent = entry.ministry ? `${role} · ${entry.ministry}` : role;
  const action = node.insertCell();
  const known = ACTIONS.includes(entry.action); // a newer gateway's action: its own name
  action.textContent = known ? t(`audit.action.${entry.action}`) : entry.action;
  action.dataset.action = entry.action;
  node.insertCell().textContent = entry.target ?? "—";
  node.insertCell().textContent = detail(entry) || "—";
  return node;
}

filtering($("#audit-filters"), FILTERS, "#/audit");
