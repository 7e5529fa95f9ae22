// People (an admin's): who logs in to the console; add one (their password shown once), change
// their role or ministry, disable or enable them, reset their password or two-step log-in.
import { t } from "./i18n.js";
import { $, api, badge, say, show } from "./page.js";

const ROLES = ["officer", "supervisor", "admin", "operator"]; // alerting: a system's token only
const SCOPED = new Set(["officer", "supervisor"]); // act for one ministry
const TOTP_WORDS = new Set(["required", "enrolled", "optional"]); // people.totp.*
const roleWord = (name) => (ROLES.includes(name) ? t(`people.role.${name}`) : name);
const ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"; // no 0/o, 1/l/i: read out and typed
let people = [];
let editing = null; // the id of the person in the change form

export async function showPeople() {
  show("people", t("people.title"));
  roleOptions($("#add-role")); // in the language shown now
  roleOptions($("#edit-role"));
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
    for (const text of [person.name, roleWord(person.role), person.ministry ?? "—"]) {
      row.insertCell().textContent = text;
    }
    const totp = TOTP_WORDS.has(person.totp) ? t(`people.totp.${person.totp}`) : person.totp;
    row.insertCell().textContent = totp;
    row.insertCell().append(
      person.disabled
        ? badge(t("people.disabled"), "state-cancelled")
        : badge(t("people.active"), "state-done"),
    );
    const change = document.createElement("button");
    const words = { type: "button", className: "secondary", textContent: t("people.change") };
    Object.assign(change, words);
    change.setAttribute("aria-label", t("people.change_person", { name: person.name }));
    change.addEventListener("click", () => edit(person.id));
    row.insertCell().append(change);
    return row;
  });
  $("#people-rows").replaceChildren(...rows);
  if (editing) edit(editing, { focus: false });
  return undefined;
}

// The roles offered, in the language shown (the first, before the catalogue is read: by name).
function roleOptions(select, word = roleWord) {
  const chosen = select.value;
  select.replaceChildren(...ROLES.map((name) => new Option(word(name), name)));
  if (chosen) select.value = chosen;
}
roleOptions($("#add-role"), String);
roleOptions($("#edit-role"), String);

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
  $("#edit-disable").textContent = t(person.disabled ? "people.enable" : "people.disable");
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
  node.replaceChildren(text, code, t("people.give"));
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
  if (body.password) reveal(t("people.new_password", { name: person.name }), body.password);
  else say("#people-done", done(changed));
  return load();
}

$("#person-edit").addEventListener("submit", (event) => {
  event.preventDefault();
  const role = $("#edit-role").value;
  const ministry = SCOPED.has(role) ? $("#edit-ministry").value.trim() : null;
  return change({ role, ministry }, (p) =>
    t(p.ministry ? "people.now_of" : "people.now", {
      name: p.name,
      role: roleWord(p.role),
      ministry: p.ministry,
    }),
  );
});

$("#edit-disable").addEventListener("click", () => {
  const disabled = !people.find((p) => p.id === editing).disabled;
  return change({ disabled }, (p) =>
    t(disabled ? "people.disabled_done" : "people.enabled_done", { name: p.name }),
  );
});

$("#edit-password").addEventListener("click", () => {
  const { name } = people.find((p) => p.id === editing);
  if (!confirm(t("people.confirm_password", { name }))) return undefined;
  return change({ password: newPassword() });
});

$("#edit-totp").addEventListener("click", () => {
  const { name } = people.find((p) => p.id === editing);
  if (!confirm(t("people.confirm_totp", { name }))) return undefined;
  return change({ reset_totp: true }, (p) =>
    t(p.totp === "required" ? "people.totp_reset_required" : "people.totp_reset_optional", {
      name: p.name,
    }),
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
  reveal(t("people.added", { name: added.name }), added.password);
  return load();
});
