// The console's words: one catalogue per language (en.json, es.json), picked by the person and
// remembered in this browser. Static text in index.html names its key (data-t="nav.compose";
// data-t-aria-label, data-t-title, data-t-placeholder for attributes); scripts ask t(key, vars).
// English is the fallback of a key another catalogue lacks (tests/console/test_catalogues.py
// keeps the two alike, so that happens only to a deployment's own edits).

export const LANGUAGES = { en: "English", es: "Español" }; // each named in itself
const CHOSEN = "smsgw.language"; // localStorage: the person's pick outlives the tab
const ATTRIBUTES = ["aria-label", "title", "placeholder"];
let words = {};
let fallback = {};
export let language = "en";

async function catalogue(code) {
  const response = await fetch(`${code}.json`);
  if (!response.ok) throw new Error(`${code}.json: ${response.status}`);
  return response.json();
}

// The language of this browser's last pick, else the first of its own it has ("es-BZ": es).
function preferred() {
  const chosen = localStorage.getItem(CHOSEN);
  if (chosen in LANGUAGES) return chosen;
  const own = navigator.languages.map((tag) => tag.split("-")[0]);
  return own.find((code) => code in LANGUAGES) ?? "en";
}

// Reads the catalogues and writes the page's static text in them.
export async function useLanguage(code = preferred()) {
  const [english, chosen] = await Promise.all([
    catalogue("en"),
    code === "en" ? null : catalogue(code),
  ]);
  fallback = english;
  words = chosen ?? english;
  language = code;
  localStorage.setItem(CHOSEN, code);
  document.documentElement.lang = code;
  translate(document);
}

// "Sent to {n} subscribers": the key's text with {name} filled in; a text of plural forms
// ({ "one": ..., "other": ... }) picked by vars.n as the language's rules say.
export function t(key, vars = {}) {
  let text = words[key] ?? fallback[key];
  if (text === undefined) {
    console.warn(`no text for ${key}`); // the tests treat a warning as a failure
    return key;
  }
  if (typeof text === "object") {
    text = text[new Intl.PluralRules(language).select(vars.n)] ?? text.other;
  }
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

// Every node of root naming a key: its text, and the attributes that name one.
export function translate(root) {
  for (const template of root.querySelectorAll("template")) translate(template.content);
  for (const node of root.querySelectorAll("[data-t]")) node.textContent = t(node.dataset.t);
  for (const name of ATTRIBUTES) {
    for (const node of root.querySelectorAll(`[data-t-${name}]`)) {
      node.setAttribute(name, t(node.getAttribute(`data-t-${name}`)));
    }
  }
}
