// API tokens (an admin's): the systems' keys to the API, listed without their secrets; issue
// one (its secret shown this once, to copy) and revoke one (at once, after a confirmation).
import { t } from "./i18n.js";
import { $, api, badge, say, show, time } from "./page.js";

const SCOPED = new Set(["officer", "supervisor"]); // act for one ministry
let busy = false; // a request of the user's on its way: no second one meanwhile

export async function showTokens() {
  show("tokens", t("tokens.title")); // a secret just issued stays (drawn again: a language)
  return load();
}

// Leaving the view: a secret shown is gone for good.
window.addEventListener("hashchange", () => {
  say("#tokens-done", "");
  hideSecret();
});

async function load() {
  let tokens;
  try {
    ({ tokens } = await api("/api/v1/tokens"));
  } catch (error) {
    return say("#tokens-error", error.message);
  }
  $("#token-rows").replaceChildren(...tokens.map(row));
  $("#tokens-empty").hidden = tokens.length > 0;
  return undefined;
}

// revoked, expired or active: the word in a badge of its colour
function stateOf(token) {
  if (token.revoked_at) return badge(t("tokens.revoked"), "state-cancelled");
  if (!token.usable) return badge(t("tokens.expired"), "state-awaiting_approval");
  return badge(t("tokens.active"), "state-done");
}

function row(token) {
  const node = document.createElement("tr");
  node.dataset.id = token.id;
  const who = token.person ?? t("tokens.nobody");
  node.insertCell().textContent = who;
  node.insertCell().textContent = t(`tokens.role.${token.role}`);
  node.insertCell().textContent = token.ministry ?? "—";
  node.insertCell().append(time(token.created_at, { short: true }));
  const expires = node.insertCell();
  if (token.expires_at) expires.append(time(token.expires_at, { short: true }));
  else expires.textContent = t("tokens.never");
  const state = node.insertCell();
  state.append(stateOf(token));
  if (token.revoked_at) state.append(" ", time(token.revoked_at, { short: true }));
  const used = node.insertCell(); // to the minute or so: the gateway writes them a minute at a time
  if (token.last_used_at) used.append(time(token.last_used_at, { short: true }));
  else used.textContent = t("tokens.not_used");
  const id = document.createElement("code");
  id.textContent = token.id;
  node.insertCell().append(id);
  const action = node.insertCell();
  if (!token.revoked_at) {
    const revoke = document.createElement("button");
    Object.assign(revoke, { type: "button", className: "danger", textContent: t("tokens.revoke") });
    revoke.setAttribute("aria-label", t("tokens.revoke_one", { name: who, id: token.id }));
    revoke.addEventListener("click", () => revokeToken(token, who, revoke));
    action.append(revoke);
  }
  return node;
}

async function revokeToken(token, who, button) {
  if (busy || !confirm(t("tokens.revoke_confirm", { name: who, id: token.id }))) return undefined;
  busy = button.disabled = true;
  try {
    await api(`/api/v1/tokens/${encodeURIComponent(token.id)}`, { method: "DELETE" });
  } catch (error) {
    return say("#tokens-error", error.message);
  } finally {
    busy = button.disabled = false;
  }
  say("#tokens-error", "");
  hideSecret();
  say("#tokens-done", t("tokens.revoked_done", { name: who, id: token.id }));
  await load();
  $("#tokens h1").focus(); // the button is gone with its row
  return undefined;
}

function hideSecret() {
  $("#token-secret").hidden = true;
  $("#token-secret-text").textContent = "";
  $("#token-copied").textContent = "";
}

// The ministry box: required by a ministry's role, empty and off for a national one.
function fitMinistry() {
  const box = $("#issue-ministry");
  const scoped = SCOPED.has($("#issue-role").value);
  box.disabled = !scoped; // a disabled box is not validated nor sent
  box.required = scoped;
  if (!scoped) box.value = "";
}
$("#issue-role").addEventListener("change", fitMinistry);
fitMinistry();

$("#token-issue").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (busy) return undefined; // the first click's request is on its way
  const body = { person: $("#issue-person").value.trim(), role: $("#issue-role").value };
  if (SCOPED.has(body.role)) body.ministry = $("#issue-ministry").value.trim();
  const days = $("#issue-days").value;
  if (days) body.expires_days = Number(days);
  const callback = $("#issue-callback").value.trim();
  if (callback) body.callback_url = callback;
  busy = $("#issue-token").disabled = true;
  let issued;
  try {
    issued = await api("/api/v1/tokens", { method: "POST", body: JSON.stringify(body) });
  } catch (error) {
    return say("#tokens-error", error.message);
  } finally {
    busy = $("#issue-token").disabled = false;
  }
  say("#tokens-error", "");
  event.target.reset();
  fitMinistry();
  say("#tokens-done", t("tokens.issued", { name: issued.person, id: issued.id }));
  $("#token-secret-text").textContent = issued.token;
  $("#token-copied").textContent = "";
  $("#token-secret").hidden = false;
  await load();
  $("#token-secret h2").focus(); // heard first: copy it now
  return undefined;
});

// The clipboard (a secure context: https, or this machine); else the secret selected, for
// Ctrl+C.
$("#token-copy").addEventListener("click", async () => {
  const secret = $("#token-secret-text");
  try {
    await navigator.clipboard.writeText(secret.textContent);
    $("#token-copied").textContent = t("tokens.copied");
  } catch {
    getSelection().selectAllChildren(secret);
    $("#token-copied").textContent = t("tokens.selected");
  }
});
