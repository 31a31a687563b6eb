// Forecasts: observed against each model with the interval band, and the models' skill table.
// The endpoints are those of the forecasting work (10-minute-ahead rows, one per issue time:
// {time, target_time, values: {observed, <model>...}, observed_at_target, lower, upper, model}).
import { api, catalog } from "./api.js";
import { timeChart } from "./chart.js";
import { t } from "./i18n.js";
import { el, field, hashParams, rackOptions, select, setOptions, showProblem, siteChooser } from "./util.js";

const TARGETS = [
  "max-cell-voltage", "min-cell-voltage", "max-cell-temperature", "min-cell-temperature", "rack-sos",
];

const epochSeconds = (text) => Date.parse(text) / 1000;

// the models' evaluation, whatever its nesting: one row per object, one column per scalar
function flatten(item, prefix = "") {
  return Object.entries(item).flatMap(([key, value]) =>
    value !== null && typeof value === "object" && !Array.isArray(value)
      ? Object.entries(flatten(value, `${prefix}${key}.`))
      : [[`${prefix}${key}`, value]]);
}

function skillTable(models) {
  const rows = (Array.isArray(models) ? models : models.models ?? [models]).map((m) => Object.fromEntries(flatten(m)));
  const columns = [...new Set(rows.flatMap(Object.keys))].filter((c) => rows.some((r) => typeof r[c] !== "object"));
  const cell = (v) => (typeof v === "number" ? String(Math.round(v * 1000) / 1000) : v ?? "");
  return el("table", { class: "skill" },
    el("thead", {}, el("tr", {}, columns.map((c) => el("th", { scope: "col" }, c)))),
    el("tbody", {}, rows.map((r) => el("tr", {}, columns.map((c) => el("td", {}, cell(r[c])))))));
}

export async function forecastsPage(main) {
  const sites = await catalog();
  const state = hashParams();
  const siteSelect = siteChooser(sites, state.site);
  const [bankSelect, rackSelect] = [el("select"), el("select")];
  const targetSelect = select(TARGETS.map((name) => [name, name]), state.target);
  const day = el("input", { type: "date" });
  const chartBox = el("div", { class: "chart", id: "forecast-chart" });
  const skill = el("div", { class: "table-box" });
  const site = () => sites.find((s) => String(s.site_id) === siteSelect.value);

  function fillSite() {
    const s = site();
    setOptions(bankSelect, s.banks.map((b) => [b.bank_id, b.bank_id]), state.bank);
    fillRacks();
    const last = s.components.find((c) => c.component === "rack")?.time_range?.last;
    day.value = state.day ?? last?.slice(0, 10) ?? "";
  }
  function fillRacks() {
    setOptions(rackSelect, rackOptions(site(), bankSelect.value), state.rack);
  }
  siteSelect.addEventListener("change", () => {
    delete state.day;
    fillSite();
  });
  bankSelect.addEventListener("change", fillRacks);

  async function load() {
    showProblem(null);
    const s = site();
    const where = `operating-sites/${s.site_id}/banks/${bankSelect.value}/racks/${rackSelect.value}/`;
    chartBox.dataset.state = "loading";
    try {
      const [rows, models] = await Promise.all([
        api(`/api/ess/stats/forecasting-${targetSelect.value}/${where}`, {
          params: { date: day.value, "time-bucket-width": "10 minutes" },
        }),
        api(`/api/ess/stats/forecasting-models/operating-sites/${s.site_id}/`),
      ]);
      const names = [...new Set(rows.flatMap((r) => Object.keys(r.values)))].filter((m) => m !== "observed");
      const chosen = rows[0]?.model;
      chartBox.replaceChildren();
      timeChart(chartBox, {
        xs: rows.map((r) => epochSeconds(r.target_time)),
        zone: s.timezone,
        lines: [
          { label: "observed", values: rows.map((r) => r.observed_at_target) },
          ...names.map((name) => ({
            label: name === chosen ? `${name} (${t("forecast.chosen")})` : name,
            values: rows.map((r) => r.values[name]),
            ...(name === chosen ? { min: rows.map((r) => r.lower), max: rows.map((r) => r.upper) } : {}),
          })),
        ],
      });
      skill.replaceChildren(el("h2", { i18n: "forecast.skill" }), skillTable(models));
      chartBox.dataset.state = "drawn";
    } catch (error) {
      chartBox.dataset.state = "error";
      showProblem(error);
    }
  }

  main.append(
    el("h1", { i18n: "nav.forecasts" }),
    el("form", { class: "controls", onsubmit: (e) => { e.preventDefault(); load(); } },
      field("site", siteSelect), field("bank", bankSelect), field("rack", rackSelect),
      field("forecast.target", targetSelect), field("day", day),
      el("button", { type: "submit", class: "primary", i18n: "load" })),
    chartBox,
    skill,
  );
  fillSite();
}
