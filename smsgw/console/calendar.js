// The calendar: broadcasts still to go, by day on the gateway's clock, each with its time,
// service, priority and audience (its estimate until sending starts); those awaiting approval
// and those quiet hours hold back say so, with when they end.
import { language, t } from "./i18n.js";
import { $, api, badge, clock, say, show, timeZone } from "./page.js";

const LIMIT = 500; // the API's most a page: far more than a year's schedule
const OPEN = "scheduled,awaiting_approval,queued,sending";
let drawn = 0; // the calendars drawn, numbered: a late estimate never writes into a newer one

// When it goes: quiet hours' end if they hold it, else its send time (none: once approved).
const when = (broadcast) => broadcast.held_until ?? broadcast.send_at;

// "2026-12-05": the day of an instant on the gateway's clock, for grouping and ordering
function dayOf(value) {
  const parts = { year: "numeric", month: "2-digit", day: "2-digit", timeZone: timeZone() };
  return new Intl.DateTimeFormat("en-CA", parts).format(new Date(value));
}

export async function showCalendar() {
  show("calendar", t("calendar.title"));
  const mine = ++drawn;
  $("#calendar-hint").textContent = t("calendar.hint", { zone: timeZone() });
  let broadcasts;
  try {
    ({ broadcasts } = await api(`/api/v1/broadcasts?state=${OPEN}&limit=${LIMIT}`));
  } catch (error) {
    return say("#calendar-error", error.message);
  }
  if (mine !== drawn) return undefined;
  $("#calendar-more").hidden = broadcasts.length < LIMIT;
  // queued or sending: only while quiet hours hold them (else they are going now)
  const waiting = broadcasts.filter(
    (b) => b.state === "scheduled" || b.state === "awaiting_approval" || b.held_until,
  );
  const days = new Map(); // day (or "" for "once approved") → broadcasts, the earliest first
  const ordered = [...waiting].sort((a, b) => (when(a) ?? "").localeCompare(when(b) ?? ""));
  for (const broadcast of ordered) {
    const day = when(broadcast) ? dayOf(when(broadcast)) : "";
    if (!days.has(day)) days.set(day, []);
    days.get(day).push(broadcast);
  }
  const sections = [...days].map(([day, group]) => dayTable(day, group));
  $("#calendar-days").replaceChildren(...sections);
  $("#calendar-empty").hidden = waiting.length > 0;
  return estimate(waiting, mine);
}

// A day's heading ("Saturday, December 5, 2026") and its broadcasts, a row each.
function dayTable(day, group) {
  const box = document.createElement("div");
  box.className = "day";
  box.dataset.day = day;
  const heading = document.createElement("h2");
  heading.id = `day-${day || "approval"}`;
  const long = { weekday: "long", year: "numeric", month: "long", day: "numeric" };
  heading.textContent = day
    ? new Date(when(group[0])).toLocaleDateString(language, { ...long, timeZone: timeZone() })
    : t("calendar.once_approved");
  const table = document.createElement("table");
  table.setAttribute("aria-labelledby", heading.id);
  const head = table.createTHead().insertRow();
  for (const key of ["time", "broadcast", "service", "priority", "state", "audience", "note"]) {
    const cell = document.createElement("th");
    cell.scope = "col";
    cell.textContent = t(`calendar.${key}`);
    head.append(cell);
  }
  const body = table.createTBody();
  for (const broadcast of group) body.append(row(broadcast));
  const scroll = document.createElement("div");
  scroll.className = "scroll";
  scroll.append(table);
  box.append(heading, scroll);
  return box;
}

function row(broadcast) {
  const node = document.createElement("tr");
  node.dataset.id = broadcast.id;
  const at = when(broadcast);
  node.insertCell().textContent = at ? clock(at) : "—";
  const link = document.createElement("a");
  link.href = `#/broadcasts/${broadcast.id}`;
  link.textContent = t("calendar.number", { id: broadcast.id });
  node.insertCell().append(link);
  node.insertCell().textContent = broadcast.service;
  node.insertCell().textContent = t(`calendar.priority.${broadcast.priority}`);
  const state = broadcast.state;
  node.insertCell().append(badge(t(`calendar.state.${state}`), `state-${state}`));
  const audience = node.insertCell();
  audience.dataset.field = "audience";
  audience.textContent = broadcast.audience ? String(broadcast.audience) : "…";
  node.insertCell().textContent = note(broadcast);
  return node;
}

// Why it waits, in words: quiet hours (until when), a second person, or its time.
function note(broadcast) {
  if (broadcast.held_until) {
    return t("calendar.held", { time: clock(broadcast.held_until), zone: timeZone() });
  }
  if (broadcast.state === "awaiting_approval") {
    return broadcast.send_at ? t("calendar.approval_at") : t("calendar.approval");
  }
  return "";
}

// The audience of those not yet counted, as the composer estimates it (the subscribers it
// would reach now); "—" when the estimate is refused (a service since deactivated).
async function estimate(waiting, mine) {
  const counts = waiting.filter((b) => !b.audience);
  await Promise.all(
    counts.map(async (broadcast) => {
      const body = { service: broadcast.service, texts: broadcast.texts };
      body.priority = broadcast.priority;
      if (broadcast.districts) body.districts = broadcast.districts;
      let text;
      try {
        const found = await api("/api/v1/broadcasts/estimate", {
          method: "POST",
          body: JSON.stringify(body),
        });
        text = t("calendar.estimate", { n: found.audience });
      } catch {
        text = "—";
      }
      const cell = document.querySelector(
        `#calendar-days tr[data-id="${broadcast.id}"] [data-field="audience"]`,
      );
      if (mine === drawn && cell) cell.textContent = text;
    }),
  );
}
