// Subscribers: one number looked up (officers see it masked, and only their ministry's
// services; the API audits every look-up), and, for officers and admins, signing it up to a
// service or removing it from one with the consent source that proves the citizen asked.
import { t } from "./i18n.js";
import { $, api, badge, languageName, ours, ROLE, say, serviceName, show, time } from "./page.js";

const ACTORS = new Set(["officer", "admin"]); // who may sign up and remove (the API's roles)
let looked = null; // {number: as typed, found: the API's answer or null}: the last look-up
let services = []; // the active ones the user may sign people up to
let choices = null; // {languages, districts}: the sign-up form's, read once

export async function showSubscribers() {
  const again = !$("#subscribers").hidden; // the language changed: the same answer, redrawn
  show("subscribers", t("subscribers.title"));
  if (!again) {
    looked = null; // a look-up is not kept for whoever opens the view next
    $("#lookup-form").reset();
    say("#subscriber-done", "");
  }
  $("#subscriber-actions").hidden = true;
  $("#subscriber").hidden = true;
  say("#lookup-none", "");
  if (ACTORS.has(sessionStorage.getItem(ROLE))) {
    try {
      await loadChoices();
    } catch (error) {
      return say("#lookup-error", error.message);
    }
  }
  return looked && draw();
}

async function loadChoices() {
  const listing = await api("/api/v1/services");
  services = ours(listing.services).filter((service) => service.active);
  choices ??= { languages: listing.languages, ...(await api("/api/v1/districts")) };
  const option = (s) =>
    new Option(`${s.keyword} · ${serviceName(s)}`, s.keyword);
  fill($("#signup-service"), services.map(option));
  const languageOptions = choices.languages.map(
    (code) => new Option(`${languageName(code)} (${code})`, code),
  );
  fill($("#signup-language"), [new Option(t("subscribers.language_keep"), ""), ...languageOptions]);
  const districts = choices.districts.map((district) => new Option(district.name, district.name));
  fill($("#signup-district"), [new Option(t("subscribers.district_none"), ""), ...districts]);
}

// A select's options replaced, what was chosen kept when it still is one.
function fill(select, options) {
  const chosen = select.value;
  select.replaceChildren(...options);
  if (options.some((option) => option.value === chosen)) select.value = chosen;
}

async function lookUp(number) {
  try {
    const found = await api(`/api/v1/subscribers/${encodeURIComponent(number)}`);
    looked = { number, found };
  } catch (error) {
    if (error.status !== 404) throw error;
    looked = { number, found: null }; // unknown, or nothing of the user's ministry: alike
  }
  draw();
}

function draw() {
  const { found } = looked;
  const actor = ACTORS.has(sessionStorage.getItem(ROLE));
  $("#subscriber").hidden = !found;
  if (!found) say("#lookup-none", t(actor ? "subscribers.none" : "subscribers.none_read"));
  else showFound(found);
  $("#subscriber-actions").hidden = !actor;
  $("#signup-form").hidden = !actor || services.length === 0;
  $("#signup-none").hidden = !actor || services.length > 0;
  const active = (found?.subscriptions ?? []).filter((s) => s.active);
  const option = (s) => new Option(s.service, s.service);
  fill($("#remove-service"), active.map(option));
  $("#remove-form").hidden = !actor || active.length === 0;
}

function showFound(found) {
  say("#lookup-none", "");
  $("#subscriber-number").textContent = t("subscribers.heading", { number: found.msisdn });
  $("#subscriber-language").textContent = found.language
    ? `${languageName(found.language)} (${found.language})`
    : t("subscribers.language_default");
  $("#subscriber-district").textContent = found.district ?? t("subscribers.district_none");
  $("#subscriber-first-seen").replaceChildren(time(found.first_seen_at));
  const stop = $("#subscriber-stop");
  if (found.opted_out_at) {
    stop.replaceChildren(badge(t("subscribers.stopped"), "state-cancelled"), " ");
    stop.append(time(found.opted_out_at, { short: true }));
  } else stop.textContent = t("subscribers.not_stopped");
  $("#subscriptions-rows").replaceChildren(...found.subscriptions.map(subscriptionRow));
  $("#subscriptions-empty").hidden = found.subscriptions.length > 0;
  $("#history-rows").replaceChildren(...found.consent_history.map(eventRow));
  $("#history-empty").hidden = found.consent_history.length > 0;
  $("#history-more").hidden = !found.more_history;
}

function subscriptionRow(subscription) {
  const row = document.createElement("tr");
  const head = document.createElement("th");
  head.scope = "row";
  head.textContent = subscription.service;
  row.append(head);
  row.insertCell().textContent = subscription.ministry;
  row.insertCell().append(
    subscription.active
      ? badge(t("subscribers.active"), "state-done")
      : badge(t("subscribers.left"), "state-cancelled"),
  );
  row.insertCell().append(time(subscription.subscribed_at, { short: true }));
  const left = row.insertCell();
  if (subscription.left_at) left.append(time(subscription.left_at, { short: true }));
  else left.textContent = "—";
  row.insertCell().textContent = t(`subscribers.source.${subscription.source}`);
  row.insertCell().textContent = subscription.consent;
  return row;
}

function eventRow(event) {
  const row = document.createElement("tr");
  row.insertCell().append(time(event.at, { short: true }));
  row.insertCell().textContent = t(`subscribers.action.${event.action}`);
  row.insertCell().textContent = event.service ?? t("subscribers.every_service");
  row.insertCell().textContent = event.detail ?? "";
  row.insertCell().textContent = t(`subscribers.source.${event.source}`);
  row.insertCell().textContent = event.consent;
  row.insertCell().textContent = event.actor ?? t("subscribers.by_citizen");
  return row;
}

// The button locked while its request is in flight; errors said in `error`.
async function busy(button, error, work) {
  button.disabled = true;
  say(error, "");
  try {
    return await work();
  } catch (failed) {
    say(error, failed.message, { sticky: true });
    return undefined;
  } finally {
    button.disabled = false;
  }
}

$("#lookup-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const box = $("#lookup-number");
  const number = box.value.trim();
  say("#subscriber-done", "");
  box.removeAttribute("aria-invalid");
  return busy($("#lookup-button"), "#lookup-error", async () => {
    try {
      await lookUp(number);
    } catch (error) {
      looked = null;
      $("#subscriber").hidden = true;
      $("#subscriber-actions").hidden = true;
      say("#lookup-none", "");
      if (error.field === "msisdn") box.setAttribute("aria-invalid", "true");
      throw error;
    }
  });
});

$("#signup-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  const body = {
    msisdn: looked.number,
    service: $("#signup-service").value,
    consent_source: $("#signup-consent").value.trim(),
  };
  if ($("#signup-language").value) body.language = $("#signup-language").value;
  if ($("#signup-district").value) body.district = $("#signup-district").value;
  return busy($("#signup-button"), "#subscriber-error", async () => {
    say("#subscriber-done", "");
    const answer = await api("/api/v1/subscriptions", {
      method: "POST",
      body: JSON.stringify(body),
    });
    form.reset();
    await lookUp(looked.number); // what the store holds now
    const said = answer.subscribed ? "subscribers.signed_up" : "subscribers.already";
    say("#subscriber-done", t(said, { service: answer.service }), { sticky: true });
  });
});

$("#remove-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  const service = $("#remove-service").value;
  if (!confirm(t("subscribers.remove_confirm", { service }))) return undefined;
  const body = {
    msisdn: looked.number,
    service,
    consent_source: $("#remove-consent").value.trim(),
  };
  return busy($("#remove-button"), "#subscriber-error", async () => {
    say("#subscriber-done", "");
    const answer = await api("/api/v1/subscriptions", {
      method: "DELETE",
      body: JSON.stringify(body),
    });
    form.reset();
    await lookUp(looked.number);
    const said = answer.left ? "subscribers.removed" : "subscribers.not_subscribed";
    say("#subscriber-done", t(said, { service: answer.service }), { sticky: true });
  });
});
