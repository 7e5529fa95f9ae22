// People (an admin's): who logs in to the console; add one (their password shown once), change
// their role or ministry, disable or enable them, reset their password or two-step log-in.
import { $, api, badge, say, show } from "./page.js";

const ROLES = ["officer", "supervisor", "admin", "operator"]; // alerting: a system's token only
const SCOPED = new Set(["officer", "supervisor"]); // act for one ministry
const TOTP_WORDS = { required: "to set up", enrolled: "on", optional: "off" };
const ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"; // no 0/o, 1/l/i: read out and typed
let people = [];
let editing = null; // the id of the person in the change form

export async function showPeople() {
  show("people", "People");
  say("#people-done", "");
  $("#person-edit").hidden = true;
  editing = null;
  return load();
}

async function load() {
  try {
    ({ users: people } = await api("/api/v1/users"));
  } catch (error) {
    return say("#people-error", error.message);
  }
  const rows = people.map((person) => {
    const row = document.createElement("tr");
    row.dataset.id = person.id;
    for (const text of [person.name, person.role, person.ministry ?? "—"]) {
      row.insertCell().textContent = text;
    }
    row.insertCell().textContent = TOTP_WORDS[person.totp] ?? person.totp;
    row.insertCell().append(
      person.disabled ? badge("disabled", "state-cancelled") : badge("active", "state-done"),
    );
    const change = document.createElement("button");
    Object.assign(change, { type: "button", className: "secondary", textContent: "Change" });
    change.setAttribute("aria-label", `Change ${person.name}`);
    change.addEventListener("click", () => edit(person.id));
    row.insertCell().append(change);
    return row;
  });
  $("#people-rows").replaceChildren(...rows);
  if (editing) edit(editing, { focus: false });
  return undefined;
}

function roleOptions(select) {
  select.replaceChildren(...ROLES.map((role) => new Option(role, role)));
}
roleOptions($("#add-role"));
roleOptions($("#edit-role"));

// The ministry box: required by a ministry's role, empty and off for a national one.
function fitMinistry(role, box) {
  const scoped = SCOPED.has(role.value);
  box.disabled = !scoped; // a disabled box is not validated nor sent
  box.required = scoped;
  if (!scoped) box.value = "";
}
for (const [role, box] of [["#add-role", "#add-ministry"], ["#edit-role", "#edit-ministry"]]) {
  $(role).addEventListener("change", () => fitMinistry($(role), $(box)));
  fitMinistry($(role), $(box));
}

function edit(id, { focus = true } = {}) {
  const person = people.find((p) => p.id === id);
  if (!person) return;
  editing = id;
  $("#edit-name").textContent = person.name;
  $("#edit-role").value = person.role;
  fitMinistry($("#edit-role"), $("#edit-ministry"));
  $("#edit-ministry").value = person.ministry ?? "";
  $("#edit-disable").textContent = person.disabled ? "Enable" : "Disable";
  $("#edit-disable").className = person.disabled ? "secondary" : "danger";
  $("#person-edit").hidden = false;
  if (focus) $("#person-edit h2").focus();
}

// "Added Ana Pérez. Their password, shown this once: <code>…</code>" (the secret copyable).
function reveal(text, secret) {
  const node = $("#people-done");
  const code = document.createElement("code");
  code.id = "shown-password";
  code.textContent = secret;
  node.replaceChildren(text, code, ". Give it to them in person; they change it under Security.");
  node.hidden = false;
}

// A password for a reset: 16 of 31 letters and digits (79 bits), in groups of four.
function newPassword() {
  const chars = [];
  while (chars.length < 16) {
    for (const byte of crypto.getRandomValues(new Uint8Array(32))) {
      if (byte < 248 && chars.length < 16) chars.push(ALPHABET[byte % 31]); // 248 = 8 × 31: even
    }
  }
  return chars.join("").match(/.{4}/g).join("-");
}

async function change(body, done) {
  const person = people.find((p) => p.id === editing);
  let changed;
  try {
    const options = { method: "PATCH", body: JSON.stringify(body) };
    changed = await api(`/api/v1/users/${editing}`, options);
  } catch (error) {
    return say("#people-error", error.message);
  }
  say("#people-error", "");
  if (body.password) reveal(`New password for ${person.name}, shown this once: `, body.password);
  else say("#people-done", done(changed));
  return load();
}

$("#person-edit").addEventListener("submit", (event) => {
  event.preventDefault();
  const role = $("#edit-role").value;
  const ministry = SCOPED.has(role) ? $("#edit-ministry").value.trim() : null;
  return change({ role, ministry }, (p) => `${p.name} is now ${p.role}${of(p)}.`);
});

const of = (person) => (person.ministry ? ` of ${person.ministry}` : "");

$("#edit-disable").addEventListener("click", () => {
  const disabled = !people.find((p) => p.id === editing).disabled;
  return change({ disabled }, (p) =>
    disabled ? `${p.name} is disabled: their sessions have ended.` : `${p.name} may log in again.`,
  );
});

$("#edit-password").addEventListener("click", () => {
  const { name } = people.find((p) => p.id === editing);
  if (!confirm(`Give ${name} a new password? Their sessions end.`)) return undefined;
  return change({ password: newPassword() });
});

$("#edit-totp").addEventListener("click", () => {
  const { name } = people.find((p) => p.id === editing);
  if (!confirm(`Reset ${name}'s two-step log-in? Their sessions end; they set it up again.`)) {
    return undefined;
  }
  return change({ reset_totp: true }, (p) =>
    p.totp === "required"
      ? `${p.name}'s two-step log-in is reset: they set it up again at their next log-in.`
      : `${p.name}'s two-step log-in is reset: their password alone logs them in for now.`,
  );
});

$("#person-add").addEventListener("submit", async (event) => {
  event.preventDefault();
  const role = $("#add-role").value;
  const body = { name: $("#add-name").value.trim(), role };
  if (SCOPED.has(role)) body.ministry = $("#add-ministry").value.trim();
  let added;
  try {
    added = await api("/api/v1/users", { method: "POST", body: JSON.stringify(body) });
  } catch (error) {
    return say("#people-error", error.message);
  }
  say("#people-error", "");
  event.target.reset();
  fitMinistry($("#add-role"), $("#add-ministry"));
  reveal(`Added ${added.name}. Their password, shown this once: `, added.password);
  return load();
});
