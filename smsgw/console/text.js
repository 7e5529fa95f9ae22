// The SMS counter: channels/text.py's text_info in JavaScript, so that the composer shows what
// the server will count and send. tests/console/test_counter.py checks that the two agree.

// 3GPP TS 23.038 §6.2.1: the GSM 7-bit default alphabet (without its escape, 0x1B)...
const BASIC = new Set(
  "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà",
);
// ...and its extension table: escape + code, two septets each.
const EXTENSION = new Set("\f^{}\\[~]|€");
// TS 23.040 §9.2.3.24.1: the concatenation header leaves 153 septets or 67 UTF-16 units a part.
const SIZES = { gsm7: [160, 153], ucs2: [70, 67] };

// Septets of a GSM text, true where an escape stands; null if a char is not in GSM.
function septets(text) {
  const escapes = [];
  for (const char of text) {
    if (BASIC.has(char)) escapes.push(false);
    else if (EXTENSION.has(char)) escapes.push(true, false);
    else return null;
  }
  return escapes;
}

// Where each part ends: greedy cuts of `budget` units, never right after a pair's first unit.
function ends(size, budget, opensPair) {
  const result = [];
  for (let start = 0; start < size; start = result.at(-1)) {
    let end = Math.min(start + budget, size);
    if (end < size && opensPair(end - 1)) end -= 1; // the pair moves whole to the next part
    result.push(end);
  }
  return result;
}

const highSurrogate = (code) => code >= 0xd800 && code <= 0xdbff;

// { encoding, segments, units, perSegment, remaining } as channels.text.text_info gives them.
export function textInfo(text) {
  const escapes = septets(text);
  const encoding = escapes ? "gsm7" : "ucs2";
  const units = escapes ? escapes.length : text.length; // JS strings are UTF-16 already
  const [single, multi] = SIZES[encoding];
  let cuts = [units];
  if (units > single) {
    const opensPair = escapes ? (at) => escapes[at] : (at) => highSurrogate(text.charCodeAt(at));
    cuts = ends(units, multi, opensPair);
  }
  const perSegment = cuts.length === 1 ? single : multi;
  const last = cuts.at(-1) - (cuts.length === 1 ? 0 : cuts.at(-2));
  return { encoding, segments: cuts.length, units, perSegment, remaining: perSegment - last };
}

// The chars that make a text UCS-2, each once, to tell the author what to change.
export function notGsm(text) {
  return [...new Set(text)].filter((char) => !BASIC.has(char) && !EXTENSION.has(char));
}

// channels.text.fold_accents: a letter outside GSM becomes the GSM letter left after dropping
// the fewest trailing accents ("á" → "a", "ǻ" → "å"); anything else stays ("≠" is not "=").
const FOLD_BLOCKS = [[0x00c0, 0x0250], [0x0370, 0x0400], [0x1e00, 0x2000], [0x2100, 0x2150]];
let folds = null; // built at the first fold

function foldChar(char) {
  let decomposed = [...char.normalize("NFD")];
  if (!/^\p{L}$/u.test(decomposed[0])) return null;
  for (;;) {
    const composed = decomposed.join("").normalize("NFC");
    if (BASIC.has(composed) || EXTENSION.has(composed)) return composed;
    if (decomposed.length === 1 || !/^\p{M}$/u.test(decomposed.at(-1))) return null;
    decomposed = decomposed.slice(0, -1);
  }
}

export function foldAccents(text) {
  if (folds === null) {
    folds = new Map();
    for (const [low, high] of FOLD_BLOCKS) {
      for (let code = low; code < high; code += 1) {
        const char = String.fromCharCode(code);
        const folded = BASIC.has(char) || EXTENSION.has(char) ? null : foldChar(char);
        if (folded !== null) folds.set(char, folded);
      }
    }
  }
  return [...text].map((char) => folds.get(char) ?? char).join("");
}
