// Explorer: site -> component -> bank/rack -> fields -> window; the resolution follows the window.
import { api, catalog } from "./api.js";
import { timeChart } from "./chart.js";
import { t } from "./i18n.js";
import {
  addDays, el, epochOf, field, fieldsChooser, hashParams, localString, rackOptions, setOptions, showProblem,
  siteChooser, windowInputs, zoneOffsetMs,
} from "./util.js";
import { pagedTable } from "./table.js";

const MINUTE = 60e3;
const HOUR = 60 * MINUTE;
const MAX_POINTS = 2000;
// finest first: raw rows (1 s cadence) up to 30 min, then the continuous aggregates
const RESOLUTIONS = [
  { name: "raw", step: 1000, limit: 30 * MINUTE },
  { name: "1 minute", step: MINUTE },
  { name: "1 hour", step: HOUR },
  { name: "1 day", step: 24 * HOUR },
];

export function resolutionFor(spanMs) {
  return RESOLUTIONS.find((r) => spanMs <= (r.limit ?? r.step * MAX_POINTS)) ?? RESOLUTIONS.at(-1);
}

export function seriesPath(site, component, bank, rack) {
  const base = `/api/ess/operating-sites/${site}`;
  if (component === "rack") return `${base}/banks/${bank}/racks/${rack}/`;
  if (component === "bank") return `${base}/banks/${bank}/`;
  return `${base}/${component}/`;
}

// The window presets, anchored at the end of the local day of the last stored row.
export function presetWindow(range, preset) {
  const last = range.last.slice(0, 19);
  const end = addDays(last.slice(0, 10), 1) + "T00:00";
  const days = { "preset.1d": 1, "preset.7d": 7, "preset.30d": 30 }[preset];
  if (days) return [addDays(end.slice(0, 10), -days) + "T00:00", end];
  if (preset === "preset.1h") {
    const hour = last.slice(0, 13) + ":00";
    const next = new Date(Date.parse(hour + ":00Z") + HOUR).toISOString().slice(0, 16);
    return [hour, next];
  }
  return [range.first.slice(0, 10) + "T00:00", end];
}

// Whole buckets of the resolution in the site's local time, so that the continuous aggregate
// answers (a window cutting a bucket would be computed from the raw rows).
export function alignWindow(zone, startMs, endMs, step) {
  if (step >= 24 * HOUR) {
    const day = (ms) => epochOf(zone, localString(zone, ms).slice(0, 10) + "T00:00");
    const end = day(endMs) < endMs ? day(endMs + 24 * HOUR) : endMs;
    return [day(startMs), end];
  }
  const offset = zoneOffsetMs(zone, startMs);
  const to = (round, ms) => round((ms + offset) / step) * step - offset;
  return [to(Math.floor, startMs), to(Math.ceil, endMs)];
}

function numericColumns(component) {
  const keys = new Set(component.key_columns);
  return component.columns.filter((c) => !keys.has(c.name) && (c.type === "float" || c.type === "integer"));
}

export async function explorerPage(main) {
  const sites = await catalog();
  const state = hashParams();
  const siteSelect = siteChooser(sites, state.site);
  const [componentSelect, bankSelect, rackSelect] = [el("select"), el("select"), el("select")];
  const fieldsSelect = fieldsChooser();
  const [start, end] = windowInputs();
  const status = el("p", { class: "status", role: "status" });
  const chartBox = el("div", { class: "chart", id: "chart" });
  const tableBox = el("div", { class: "table-box" });

  const site = () => sites.find((s) => String(s.site_id) === siteSelect.value);
  const component = () => site().components.find((c) => c.component === componentSelect.value);

  function fillSite() {
    const s = site();
    setOptions(componentSelect, s.components.map((c) => [c.component, t(`comp.${c.component}`)]),
      state.component ?? "rack");
    setOptions(bankSelect, s.banks.map((b) => [b.bank_id, b.bank_id]), state.bank);
    fillComponent();
  }
  function fillRacks() {
    setOptions(rackSelect, rackOptions(site(), bankSelect.value), state.rack);
  }
  function fillComponent() {
    const c = component();
    fillRacks();
    bankSelect.disabled = !["bank", "rack"].includes(c.component);
    rackSelect.disabled = c.component !== "rack";
    const columns = numericColumns(c);
    const wanted = (state.fields ?? "").split(",").filter(Boolean);
    setOptions(fieldsSelect, columns.map((col) => [col.name, col.unit ? `${col.name} (${col.unit})` : col.name]));
    for (const option of fieldsSelect.options) option.selected = wanted.includes(option.value);
    if (!fieldsSelect.selectedOptions.length && fieldsSelect.options.length) fieldsSelect.options[0].selected = true;
    if (c.time_range && !(state.start && state.end)) [start.value, end.value] = presetWindow(c.time_range, "preset.1d");
    else if (state.start) [start.value, end.value] = [state.start, state.end];
  }
  siteSelect.addEventListener("change", () => { delete state.component; fillSite(); });
  componentSelect.addEventListener("change", () => { delete state.start; fillComponent(); });
  bankSelect.addEventListener("change", fillRacks);

  const presets = ["preset.1h", "preset.1d", "preset.7d", "preset.30d", "preset.all"].map((key) =>
    el("button", {
      type: "button", i18n: key, onclick: () => {
        const range = component().time_range;
        if (!range) return;
        [start.value, end.value] = presetWindow(range, key);
        load();
      },
    }));

  async function load() {
    const c = component();
    const zone = site().timezone;
    const fields = [...fieldsSelect.selectedOptions].map((o) => o.value);
    const span = epochOf(zone, end.value) - epochOf(zone, start.value);
    const resolution = resolutionFor(span);
    if (resolution.name !== "raw" && Number.isFinite(span)) {
      const [from, to] = alignWindow(zone, epochOf(zone, start.value), epochOf(zone, end.value), resolution.step);
      [start.value, end.value] = [localString(zone, from, true), localString(zone, to, true)];
    }
    const params = {
      site: siteSelect.value, component: c.component, bank: bankSelect.value, rack: rackSelect.value,
      fields: fields.join(","), start: start.value, end: end.value,
    };
    history.replaceState(null, "", "#explorer?" + new URLSearchParams(params));
    showProblem(null);
    chartBox.dataset.state = "loading";
    status.textContent = t("loading");
    try {
      const { xs, lines, rows } = resolution.name === "raw"
        ? await rawSeries(params, fields)
        : await aggregateSeries(params, fields, resolution);
      chartBox.replaceChildren();
      timeChart(chartBox, {
        xs, lines, zone, onSelect: (from, to) => {
          start.value = localString(zone, from * 1000, true);
          end.value = localString(zone, Math.ceil(to) * 1000, true);
          load();
        },
      });
      chartBox.dataset.resolution = resolution.name;
      status.replaceChildren(
        el("span", { i18n: "resolution" }), `: `, el("span", { i18n: `res.${resolution.name}`, class: "resolution" }),
        ` · ${xs.length} `, el("span", { i18n: "points" }), " · ", el("span", { i18n: "explorer.zoom" }),
      );
      tableBox.replaceChildren(pagedTable(["time", ...fields], rows));
      chartBox.dataset.state = "drawn";
    } catch (error) {
      chartBox.dataset.state = "error";
      status.textContent = "";
      showProblem(error);
    }
  }

  main.append(
    el("h1", { i18n: "nav.explorer" }),
    el("form", { class: "controls", onsubmit: (e) => { e.preventDefault(); load(); } },
      field("site", siteSelect), field("component", componentSelect), field("bank", bankSelect),
      field("rack", rackSelect), field("fields", fieldsSelect), field("start", start), field("end", end),
      el("fieldset", { class: "presets" }, el("legend", { i18n: "presets" }), ...presets),
      el("button", { type: "submit", i18n: "load", class: "primary" })),
    status,
    el("div", { class: "explorer" }, chartBox, tableBox),
  );
  fillSite();
  if (component().time_range) await load();
}

const epochSeconds = (text) => Date.parse(text) / 1000;

async function rawSeries(params, fields) {
  const page = await api(seriesPath(params.site, params.component, params.bank, params.rack), {
    params: {
      fields: fields.join(","), "start-time": params.start, "end-time": params.end, page_size: MAX_POINTS,
    },
  });
  const rows = page.results;
  return {
    xs: rows.map((r) => epochSeconds(r.timestamp)),
    lines: fields.map((f) => ({ label: f, values: rows.map((r) => r[f]) })),
    rows: rows.map((r) => [r.timestamp, ...fields.map((f) => r[f])]),
  };
}

async function aggregateSeries(params, fields, resolution) {
  const component = params.component;
  const items = await api(`/api/ess/operating-sites/${params.site}/aggregate/`, {
    params: {
      component,
      bank: ["bank", "rack"].includes(component) ? params.bank : undefined,
      rack: component === "rack" ? params.rack : undefined,
      metrics: fields.flatMap((f) => [`avg:${f}`, `min:${f}`, `max:${f}`]).join(","),
      "time-bucket-width": resolution.name,
      "start-time": params.start,
      "end-time": params.end,
    },
  });
  return {
    xs: items.map((i) => epochSeconds(i.time)),
    lines: fields.map((f) => ({
      label: f,
      values: items.map((i) => i[`avg_${f}`]),
      min: items.map((i) => i[`min_${f}`]),
      max: items.map((i) => i[`max_${f}`]),
    })),
    rows: items.map((i) => [i.time, ...fields.map((f) => i[`avg_${f}`])]),
  };
}
