// The console's charts: uPlot (uplot.esm.js, vendored) in the console's colours, with axes and
// ticks, a legend, a tooltip that follows the pointer, a width that follows its box, and the
// same numbers in a table for screen readers (the drawing itself is aria-hidden). Two kinds:
//
//   lineChart(box, {caption, x: {label, time: true, zone, format, tip}, xs, series, y})
//   barChart(box, {caption, x: {label}, labels, series, y})
//
// box: an empty element of the page (class "chart" gives the colours; style.css); drawn again
// with new data by calling the same function on the same box (it keeps its chart). The spec:
//   caption  the chart's name, the table's caption ("Subscribers per service")
//   x        label: the first column's heading; lines: time (xs are Unix seconds), zone (an IANA
//            zone, times are shown on its clock; default: the reader's), format and tip (Intl
//            date options: the ticks', the tooltip's); bars: one category each of labels
//   xs       lines: the x of each point, ascending
//   labels   bars: the categories' names
//   series   [{label, values, colour, dash, format}]: values one per x (null: a gap), colour
//            1-6 (the palette) or a CSS colour, dash: a dashed line (a cap, a target), format:
//            value => text (tooltip, table); bars: several series are grouped side by side, and
//            a single series may give colours: one per bar
//   y        {label, integer}: the unit ("SMS/s"), whole numbers only (counts)
//   table    optional {head: [...], rows: [[...]], newestFirst}: another table than the numbers
//            (rows: the first cell of each heads its row); newestFirst: lines, the last x first
//   empty    text shown in place of the drawing while there is no point (the table stays)
//   height   px, 220 by default
// Each returns the chart ({update(spec), destroy()}). Numbers are written in the console's
// language; times on the gateway's clock when the caller passes its zone (page.js timeZone()).
import { language } from "./i18n.js";
import uPlot from "./uplot.esm.js";

const HEIGHT = 220;
const FONT = '12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
const charts = new WeakMap(); // box → its chart

export const lineChart = (box, spec) => chart(box, spec, "line");
export const barChart = (box, spec) => chart(box, spec, "bar");

function chart(box, spec, kind) {
  const drawn = charts.get(box);
  if (drawn?.kind === kind) {
    drawn.update(spec);
    return drawn;
  }
  drawn?.destroy();
  const made = new Chart(box, spec, kind);
  charts.set(box, made);
  return made;
}

// "1,234.5" / "1.234,5": a number as the console's language writes it
export function number(value, digits = 1) {
  if (value === null || value === undefined) return "–";
  return new Intl.NumberFormat(language, { maximumFractionDigits: digits }).format(value);
}

class Chart {
  constructor(box, spec, kind) {
    this.box = box;
    this.kind = kind;
    this.spec = spec;
    this.plot = document.createElement("div");
    this.plot.className = `plot plot-${kind}`; // not "bar": the poll results' class
    this.plot.setAttribute("aria-hidden", "true"); // the table below says it all
    this.empty = document.createElement("p");
    this.empty.className = "hint";
    const alternative = document.createElement("div");
    alternative.className = "visually-hidden"; // a box: the table's rows never make the page longer
    this.table = document.createElement("table");
    alternative.append(this.table);
    box.replaceChildren(this.plot, this.empty, alternative);
    this.width = 0;
    this.observer = new ResizeObserver(() => requestAnimationFrame(() => this.fit()));
    this.observer.observe(box);
    this.update(spec);
  }

  update(spec) {
    const rebuild = !this.u || shape(spec) !== shape(this.spec); // else only the data changed
    this.spec = spec;
    const data = this.data();
    const points = data[0].length;
    this.empty.textContent = points ? "" : (spec.empty ?? "");
    this.empty.hidden = points > 0 || !spec.empty;
    this.plot.hidden = points === 0;
    if (rebuild) {
      this.u?.destroy();
      this.u = new uPlot(this.options(), data, this.plot);
      this.width = 0;
      this.fit();
    } else {
      this.u.setData(data);
      this.fit(); // shown again after it had no point
    }
    this.tabulate();
  }

  destroy() {
    this.observer.disconnect();
    this.u?.destroy();
    this.box.replaceChildren();
  }

  // the drawing as wide as its box (a phone's 390 px to a desktop's), drawn again if it changed
  fit() {
    const width = Math.floor(this.plot.clientWidth);
    if (width > 0 && width !== this.width) {
      this.width = width;
      this.u.setSize({ width, height: this.spec.height ?? HEIGHT });
    }
  }

  data() {
    const { spec } = this;
    const xs = this.kind === "bar" ? spec.labels.map((_, i) => i) : spec.xs;
    return [xs, ...spec.series.map((s) => s.values)];
  }

  colour(series, index) {
    const style = getComputedStyle(this.box);
    const pick = series.colour ?? (index % 6) + 1;
    return typeof pick === "number" ? style.getPropertyValue(`--series-${pick}`).trim() : pick;
  }

  options() {
    const style = getComputedStyle(this.box);
    const ink = style.getPropertyValue("--axis").trim() || style.color;
    const grid = style.getPropertyValue("--grid").trim();
    const axis = { stroke: ink, font: FONT, labelFont: FONT, grid: { stroke: grid, width: 1 } };
    Object.assign(axis, { ticks: { stroke: grid, width: 1 } });
    const { spec } = this;
    const bars = this.kind === "bar";
    const options = {
      width: this.plot.clientWidth || 300,
      height: spec.height ?? HEIGHT,
      scales: {
        x: bars
          ? { time: false, range: () => [-0.5, this.spec.labels.length - 0.5] }
          : { time: Boolean(spec.x.time) },
        y: { range: (_u, _min, max) => [0, ceiling(max)] },
      },
      axes: [
        { ...axis, size: 30, ...this.xAxis(), label: spec.x.label, labelSize: 20 },
        {
          ...axis,
          label: spec.y?.label,
          labelSize: spec.y?.label ? 20 : 0,
          size: (_u, values) => 24 + 7.5 * Math.max(2, ...(values ?? []).map((v) => v.length)),
          values: (_u, splits) => splits.map((v) => number(v, 2)),
          ...(spec.y?.integer ? { incrs: INTEGERS } : {}),
        },
      ],
      series: [{ label: spec.x.label }, ...spec.series.map((s, i) => this.series(s, i))],
      // the key: a bar's colour, or a line's (dashed for a cap or a target: style.css)
      // (none for bars each of its own colour: the axis names them)
      legend: {
        show: !spec.series.some((s) => s.colours),
        live: false,
        markers: { dash: (u, i) => dashes(u.series[i]) },
      },
      cursor: { drag: { x: false, y: false }, y: false, points: { show: !bars } },
      hooks: { setCursor: [(u) => this.tip(u)], ready: [(u) => this.tipBox(u)] },
    };
    if (spec.x.time && spec.x.zone) {
      options.tzDate = (seconds) => uPlot.tzDate(new Date(seconds * 1000), this.spec.x.zone);
    }
    return options;
  }

  // (the closures read this.spec: new data of the same shape is drawn without a new chart)
  xAxis() {
    const labels = () => this.spec.labels;
    if (this.kind === "bar") {
      return {
        grid: { show: false },
        splits: () => labels().map((_, i) => i),
        values: (_u, splits) => splits.map((i) => labels()[i] ?? ""),
        rotate: () => (this.crowded() ? 40 : 0), // each name ends at its bar
        size: () => (this.crowded() ? 24 + 4.5 * Math.max(...labels().map((l) => l.length)) : 36),
      };
    }
    if (!this.spec.x.time) return {};
    // ticks seconds apart (a gateway that just started) say their seconds
    const values = (_u, splits, _axis, _space, step) => {
      const { format } = this.spec.x;
      return splits.map((s) => this.when(s, step < 60 ? { ...format, second: "2-digit" } : format));
    };
    return { space: 60, values };
  }

  // more bars than their names fit side by side (a phone): the names slant
  crowded() {
    const longest = Math.max(0, ...this.spec.labels.map((label) => label.length));
    return (this.width || 300) / Math.max(1, this.spec.labels.length) < longest * 7 + 12;
  }

  series(s, i) {
    const colour = this.colour(s, i);
    const common = { label: s.label, stroke: colour, value: (_u, v) => this.format(i, v) };
    if (this.kind === "line") {
      return { ...common, width: 2, dash: s.dash ? [6, 4] : undefined, points: { size: 5 } };
    }
    const group = this.spec.series.length;
    const across = 0.7 / group; // side by side within 70% of each category's width
    const disp = {};
    if (group > 1) {
      disp.x0 = { unit: 1, values: (u) => u.data[0].map((x) => x - 0.35 + i * across) };
      disp.size = { unit: 1, values: () => [across] };
    }
    if (s.colours) {
      const each = () => this.spec.series[i].colours ?? [];
      const fills = () => each().map((c) => this.colour({ colour: c ?? colour }));
      disp.fill = { unit: 3, values: fills };
    }
    return {
      ...common,
      width: 0,
      fill: colour,
      points: { show: false },
      paths: uPlot.paths.bars({ size: [0.7, 96], disp }),
    };
  }

  // series i's value as written in the tooltip and the table
  format(i, value) {
    return (this.spec.series[i].format ?? ((v) => number(v)))(value);
  }

  // an x as written in the tooltip and the table
  xText(x) {
    const { spec } = this;
    if (this.kind === "bar") return spec.labels[x];
    return spec.x.time ? this.when(x, spec.x.tip ?? spec.x.format) : number(x);
  }

  when(seconds, format) {
    const options = { ...format, timeZone: this.spec.x.zone };
    return new Intl.DateTimeFormat(language, options).format(new Date(seconds * 1000));
  }

  // The tooltip: the x and each shown series' value at the pointer, beside it.
  tipBox(u) {
    this.tipNode = document.createElement("div");
    this.tipNode.className = "chart-tip";
    this.tipNode.hidden = true;
    u.over.append(this.tipNode);
  }

  tip(u) {
    const tip = this.tipNode;
    const i = u.cursor.idx;
    if (!tip) return;
    if (i === null || i === undefined || u.cursor.left < 0) {
      tip.hidden = true;
      return;
    }
    const lines = [this.xText(u.data[0][i])];
    u.series.forEach((series, s) => {
      if (s > 0 && series.show) lines.push(`${series.label}: ${series.value(u, u.data[s][i])}`);
    });
    tip.replaceChildren(
      ...lines.map((text, n) => {
        const line = document.createElement(n ? "span" : "strong");
        line.textContent = text;
        return line;
      }),
    );
    tip.hidden = false;
    const wide = u.over.clientWidth;
    const left = u.cursor.left + 12;
    // CSSOM, not a style attribute: the CSP (default-src 'self') allows it
    const flipped = Math.max(0, u.cursor.left - tip.offsetWidth - 12);
    tip.style.left = `${left + tip.offsetWidth > wide ? flipped : left}px`;
    tip.style.top = `${Math.max(0, u.cursor.top - tip.offsetHeight - 8)}px`;
  }

  // The table: the caption, a column per series (or the spec's own), a row per x.
  tabulate() {
    const { spec } = this;
    let { head, rows } = spec.table ?? {};
    if (!rows) {
      head = [spec.x.label, ...spec.series.map((s) => s.label)];
      const xs = this.data()[0];
      rows = xs.map((x, i) => [
        this.xText(x),
        ...spec.series.map((s, n) => this.format(n, s.values[i])),
      ]);
      if (spec.table?.newestFirst) rows.reverse();
    }
    const caption = document.createElement("caption");
    caption.textContent = spec.caption;
    const top = document.createElement("thead");
    const heads = top.insertRow();
    for (const text of head) {
      const cell = document.createElement("th");
      cell.scope = "col";
      cell.textContent = text;
      heads.append(cell);
    }
    const body = document.createElement("tbody");
    for (const cells of rows) {
      const row = body.insertRow();
      cells.forEach((text, n) => {
        const cell = document.createElement(n ? "td" : "th");
        if (!n) cell.scope = "row";
        cell.textContent = text;
        row.append(cell);
      });
    }
    this.table.replaceChildren(caption, top, body);
  }
}

// what the chart is drawn with, apart from its data
function shape(spec) {
  const { x, y, height, series } = spec;
  const each = series.map((s) => [s.label, s.colour, s.dash, Boolean(s.colours)]);
  return JSON.stringify([x.label, x.time, x.zone, y, height, each]);
}

const dashes = (series) => (series.dash ? "dashed" : "solid");

// steps between the ticks of counts: never half a subscriber
const INTEGERS = Array.from({ length: 10 }, (_, k) => [1, 2, 5].map((m) => m * 10 ** k)).flat();

// the top of the scale: a round number a little above the largest value (1 at least)
function ceiling(max) {
  if (!(max > 0)) return 1;
  const step = 10 ** Math.floor(Math.log10(max));
  const tops = [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10].map((m) => m * step);
  return tops.find((top) => top >= max * 1.05) ?? 10 * step;
}
