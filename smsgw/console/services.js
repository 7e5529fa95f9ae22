// Services: the catalogue (an admin's to change; officers and supervisors read their ministry's).
// A service's texts per language, each with its SMS counter; its aliases by language; the API's
// refusals shown next to the box they concern (the API names it: "welcome.es").
import { t } from "./i18n.js";
import {
  $,
  api,
  badge,
  count,
  go,
  languageName,
  MINISTRY,
  ours,
  ROLE,
  say,
  serviceName,
  show,
} from "./page.js";

const NEW = "new"; // #/services/new: keywords are upper case, so no service is called that
const UNDETERMINED = "und"; // the API's language of aliases whose language is not known
const TEXTS = ["names", "descriptions", "welcome"];
let languages = []; // those a service's texts may be in (the gateway's templates)
let shown = null; // the service in the form (null: a new one)
let drawn = null; // the route the form was drawn for: a language change keeps what is typed
let saved = ""; // said once on the page the save led to

const isAdmin = () => sessionStorage.getItem(ROLE) === "admin";
const words = (text) => text.split(/[\s,;]+/).filter(Boolean);

// The list

export async function showServices() {
  show("services", t("services.title"));
  const admin = isAdmin();
  $("#services-new").hidden = !admin;
  $("#services-scope").hidden = admin;
  let services;
  try {
    ({ services, languages } = await api("/api/v1/services"));
  } catch (error) {
    return say("#services-error", error.message);
  }
  const rows = ours(services).map((service) => {
    const row = document.createElement("tr");
    const link = document.createElement("a");
    link.href = `#/services/${encodeURIComponent(service.keyword)}`;
    link.textContent = service.keyword;
    row.insertCell().append(link);
    row.insertCell().textContent = serviceName(service);
    row.insertCell().textContent = aliasText(service.aliases) || "—";
    row.insertCell().textContent = service.ministry;
    row.insertCell().append(activeBadge(service.active));
    row.insertCell().textContent = service.subscribers.toLocaleString();
    return row;
  });
  $("#services-empty").hidden = rows.length > 0;
  return $("#services-rows").replaceChildren(...rows);
}

// "SALUD (es), RADIO": each alias with its language's code, when it is known
function aliasText(aliases) {
  return Object.entries(aliases)
    .flatMap(([code, group]) => group.map((a) => (code === UNDETERMINED ? a : `${a} (${code})`)))
    .join(", ");
}

const activeBadge = (active) =>
  active
    ? badge(t("services.active"), "state-done")
    : badge(t("services.inactive"), "state-cancelled");

// One service: its form (read-only but for admins)

export async function showService(keyword) {
  const route = location.hash;
  const again = drawn === route && !$("#service-page").hidden; // the language changed
  const title = keyword === NEW ? t("service.new_title") : t("service.title", { keyword });
  $("#service-title").textContent = title; // heard as the view opens (show() focuses it)
  show("service-page", title);
  const admin = isAdmin();
  $("#service-fields").disabled = !admin;
  $("#service-save").hidden = !admin;
  $("#service-readonly").hidden = admin;
  if (saved) say("#service-done", saved);
  else say("#service-done", "");
  saved = "";
  if (again) return draw(collect(), { keep: true });
  drawn = null;
  try {
    const listing = await api("/api/v1/services");
    languages = listing.languages;
    shown =
      keyword === NEW
        ? null
        : (listing.services.find((s) => s.keyword === keyword) ??
          (await api(`/api/v1/services/${encodeURIComponent(keyword)}`)));
  } catch (error) {
    return say("#service-error", error.message);
  }
  drawn = route;
  return draw(shown ?? blank());
}

const blank = () => ({
  keyword: "",
  ministry: sessionStorage.getItem(MINISTRY) ?? "",
  default_language: languages[0] ?? "en",
  names: {},
  descriptions: {},
  welcome: {},
  aliases: {},
  requires_approval: false,
  confirm_sign_ups: true,
});

function draw(service, { keep = false } = {}) {
  $("#service-title").textContent = shown
    ? t("service.title", { keyword: shown.keyword })
    : t("service.new_title");
  $("#service-keyword").value = service.keyword;
  $("#service-keyword").readOnly = shown !== null; // it cannot change: an alias instead
  $("#service-keyword-hint").textContent = shown
    ? t("service.keyword_fixed")
    : t("service.keyword_hint");
  $("#service-ministry").value = service.ministry;
  const select = $("#service-default-language");
  select.replaceChildren(...languages.map((code) => new Option(nameOf(code), code)));
  select.value = service.default_language;
  $("#service-languages").replaceChildren(...languages.map((code) => group(code, service)));
  $("#service-aliases-und").value = (service.aliases[UNDETERMINED] ?? []).join(", ");
  $("#service-approval").checked = service.requires_approval;
  $("#service-confirm").checked = service.confirm_sign_ups;
  const active = $("#service-active");
  active.hidden = !(shown && isAdmin());
  if (shown) {
    active.textContent = shown.active ? t("service.deactivate") : t("service.reactivate");
    active.className = shown.active ? "danger" : "secondary";
    $("#service-state").replaceChildren(activeBadge(shown.active));
    $("#service-subscribers").textContent = t("service.subscribers", {
      n: shown.subscribers,
      count: shown.subscribers.toLocaleString(),
    });
  }
  $("#service-facts").hidden = !shown;
  if (!keep) clearErrors();
  recount();
}

const nameOf = (code) => `${languageName(code)} (${code})`;

// A language's boxes: name, description, welcome SMS, aliases; each text with its counter.
function group(code, service) {
  const fieldset = $("#service-language-template").content.firstElementChild.cloneNode(true);
  fieldset.querySelector("legend").textContent = nameOf(code);
  fieldset.dataset.language = code;
  for (const part of fieldset.querySelectorAll("[data-part]")) {
    const name = part.dataset.part; // names, descriptions, welcome, aliases
    const id = `service-${name}-${code}`;
    const box = part.querySelector("input, textarea");
    const hint = part.querySelector(".hint");
    const counter = part.querySelector(".counter");
    const error = part.querySelector(".error");
    part.querySelector("label").htmlFor = box.id = id;
    hint.id = `${id}-hint`;
    error.id = `${id}-error`;
    error.dataset.field = `${name}.${code}`;
    const described = [hint.id, error.id];
    if (counter) {
      counter.id = `${id}-count`;
      described.splice(1, 0, counter.id);
      box.addEventListener("input", recount);
    }
    box.setAttribute("aria-describedby", described.join(" "));
    box.value =
      name === "aliases" ? (service.aliases[code] ?? []).join(", ") : (service[name][code] ?? "");
  }
  return fieldset;
}

// Every counter: what the server will count; a name is counted as its line of the LIST reply.
function recount() {
  const keyword = $("#service-keyword").value.trim().toUpperCase();
  const boxes = document.querySelectorAll("#service-languages [data-part] :is(input, textarea)");
  for (const box of boxes) {
    const counter = $(`#${box.id}-count`);
    if (!counter) continue;
    const named = box.id.startsWith("service-names-");
    count(named ? { value: `${keyword} ${box.value}` } : box, counter);
  }
}
$("#service-keyword").addEventListener("input", recount);

// The form as typed, in the API's shape (empty texts and alias groups left out).
function collect() {
  const service = {
    keyword: $("#service-keyword").value.trim(),
    ministry: $("#service-ministry").value.trim(),
    default_language: $("#service-default-language").value,
    names: {},
    descriptions: {},
    welcome: {},
    aliases: {},
    requires_approval: $("#service-approval").checked,
    confirm_sign_ups: $("#service-confirm").checked,
  };
  for (const fieldset of document.querySelectorAll("#service-languages fieldset")) {
    const code = fieldset.dataset.language;
    for (const name of TEXTS) {
      const text = $(`#service-${name}-${code}`).value;
      if (text.trim()) service[name][code] = text;
    }
    const aliases = words($(`#service-aliases-${code}`).value);
    if (aliases.length) service.aliases[code] = aliases;
  }
  const unknown = words($("#service-aliases-und").value);
  if (unknown.length) service.aliases[UNDETERMINED] = unknown;
  return service;
}

function clearErrors() {
  for (const node of document.querySelectorAll("#service-page [data-field]")) {
    say(`#${node.id}`, "");
  }
  for (const box of document.querySelectorAll("#service-page [aria-invalid]")) {
    box.removeAttribute("aria-invalid");
  }
}

// The API's refusal next to the box it names ("welcome.es"), or above the form if none does.
function refused(error) {
  const field = error.field ?? "";
  const place = field && document.querySelector(`#service-page [data-field="${field}"]`);
  if (!place) return say("#service-error", error.message);
  const message = error.message.startsWith(`${field}: `)
    ? error.message.slice(field.length + 2)
    : error.message;
  say(`#${place.id}`, message);
  const box = $(`#${place.id.replace(/-error$/, "")}`);
  if (box) {
    box.setAttribute("aria-invalid", "true");
    box.focus();
  }
  return undefined;
}

$("#service-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = $("#service-save");
  const body = collect();
  clearErrors();
  say("#service-error", "");
  say("#service-done", "");
  button.disabled = true; // one request a click
  let answer;
  try {
    if (shown) {
      delete body.keyword; // it cannot change
      const path = `/api/v1/services/${encodeURIComponent(shown.keyword)}`;
      answer = await api(path, { method: "PATCH", body: JSON.stringify(body) });
    } else {
      answer = await api("/api/v1/services", { method: "POST", body: JSON.stringify(body) });
    }
  } catch (error) {
    return refused(error);
  } finally {
    button.disabled = false;
  }
  saved = shown
    ? t("service.saved", { keyword: answer.keyword })
    : t("service.created", { keyword: answer.keyword });
  drawn = null; // drawn again from what the API now holds
  return go(`#/services/${encodeURIComponent(answer.keyword)}`);
});

$("#service-active").addEventListener("click", async () => {
  const button = $("#service-active");
  const active = !shown.active;
  const keyword = shown.keyword;
  if (!active && !confirm(t("service.deactivate_confirm", { keyword }))) return undefined;
  button.disabled = true;
  try {
    const path = `/api/v1/services/${encodeURIComponent(keyword)}`;
    await api(path, { method: "PATCH", body: JSON.stringify({ active }) });
  } catch (error) {
    return say("#service-error", error.message);
  } finally {
    button.disabled = false;
  }
  saved = active ? t("service.reactivated", { keyword }) : t("service.deactivated", { keyword });
  drawn = null;
  return go(`#/services/${encodeURIComponent(keyword)}`);
});
