// A table wider than its box scrolls inside it (class "scroll"), not the page. A keyboard
// reaches the columns out of sight only if the box takes focus (WCAG 2.1.1): while a box
// overflows, it is focusable (arrow keys scroll it), a region named by its table's caption or,
// without one, by the heading before it. Imported for this effect alone: every box in
// index.html.
let names = 0;

const watcher = new ResizeObserver((seen) => {
  for (const { target } of seen) mark(target.closest(".scroll"));
});

// a table put in the box's place: watched too
const swaps = new MutationObserver((changes) => {
  for (const { target } of changes) watch(target);
});

for (const box of document.querySelectorAll(".scroll")) {
  watcher.observe(box); // its width: the window's, the phone turned
  watch(box);
  swaps.observe(box, { childList: true });
}

function watch(box) {
  for (const inside of box.children) watcher.observe(inside); // its table's: rows come and go
}

function mark(box) {
  if (box.scrollWidth <= box.clientWidth) {
    for (const name of ["tabindex", "role", "aria-labelledby"]) box.removeAttribute(name);
    return;
  }
  box.tabIndex = 0;
  const name = box.querySelector("caption") ?? heading(box);
  if (!name) return;
  name.id ||= `scroll-name-${++names}`;
  box.setAttribute("role", "region");
  box.setAttribute("aria-labelledby", name.id);
}

// The last heading before the box in its view: its own siblings', then its parents'.
function heading(box) {
  for (let node = box; node && node.tagName !== "SECTION"; node = node.parentElement) {
    for (let before = node.previousElementSibling; before; before = before.previousElementSibling) {
      if (/^H[1-6]$/.test(before.tagName)) return before;
    }
  }
  return null;
}
