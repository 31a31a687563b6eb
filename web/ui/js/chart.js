// uPlot time-series charts in a site's time zone, with optional min/max bands.
const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"];

export function color(i) {
  return COLORS[i % COLORS.length];
}

/**
 * lines: [{label, values, min?, max?}], xs: epoch seconds. onSelect(fromSec, toSec) on drag.
 */
export function timeChart(container, { xs, lines, zone, onSelect, height = 320 }) {
  const data = [xs];
  const series = [{}];
  const bands = [];
  lines.forEach((line, i) => {
    data.push(line.values);
    series.push({ label: line.label, stroke: color(i), width: 1.5, spanGaps: false });
    if (line.min && line.max) {
      const at = data.length;
      data.push(line.max, line.min);
      series.push({ label: `${line.label} max`, stroke: "transparent", show: true },
        { label: `${line.label} min`, stroke: "transparent", show: true });
      bands.push({ series: [at, at + 1], fill: color(i) + "33" });
    }
  });
  const width = Math.max(320, container.clientWidth || 800);
  const chart = new uPlot({
    width,
    height,
    series,
    bands,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), zone),
    cursor: { drag: { x: true, y: false, setScale: false } },
    legend: { live: true },
    hooks: {
      setSelect: [(u) => {
        if (u.select.width < 4 || !onSelect) return;
        const from = u.posToVal(u.select.left, "x");
        const to = u.posToVal(u.select.left + u.select.width, "x");
        u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
        onSelect(from, to);
      }],
    },
  }, data, container);
  container.dataset.points = String(xs.length);
  return chart;
}
