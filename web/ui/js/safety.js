// Safety: SoS and ExSoS heat maps (rack x time), protection-map episodes on a timeline with
// their level counts, SoCP weak cells, SoL with its band. One bank, one local day.
import { api, catalog } from "./api.js";
import { timeChart } from "./chart.js";
import { currentLanguage, t } from "./i18n.js";
import { addDays, el, epochOf, field, hashParams, setOptions, showProblem, siteChooser } from "./util.js";

const SOS_COLORS = { safe: "#2e9d4f", warning: "#f2c744", unsafe: "#d62728" };
const EXSOS_COLORS = {
  negligible: "#2e9d4f", marginal: "#9ccc65", neutral: "#f2c744", critical: "#f08a24", catastrophic: "#d62728",
};
const BUCKET = "10 minutes";
const CELL_W = 5;
const CELL_H = 14;
const LABEL_W = 44;

function legend(colors, translate) {
  return el("div", { class: "legend" }, Object.entries(colors).map(([name, color]) =>
    el("span", {}, el("i", { style: `background:${color}` }), translate ? t(`class.${name}`) : name)));
}

// items: [{time, rack_id, class}] -> a canvas, racks as rows, buckets as columns
function heatMap(items, dayStart, colors, racks) {
  const columns = (24 * 60) / 10;
  const canvas = el("canvas", {
    class: "heatmap", width: LABEL_W + columns * CELL_W + 24, height: racks * CELL_H + 18, role: "img",
  });
  const g = canvas.getContext("2d");
  g.font = "11px system-ui";
  g.fillStyle = "#5b6475";
  for (let r = 1; r <= racks; r++) g.fillText(`${t("rack")} ${r}`, 0, r * CELL_H - 3);
  for (let h = 0; h <= 24; h += 3) g.fillText(`${h}h`, LABEL_W + h * 6 * CELL_W - 6, racks * CELL_H + 14);
  for (const item of items) {
    const column = Math.floor((Date.parse(item.time) - dayStart) / 600e3);
    g.fillStyle = colors[item.class] ?? "#d8dce3";
    g.fillRect(LABEL_W + column * CELL_W, (item.rack_id - 1) * CELL_H, CELL_W - 0.5, CELL_H - 1);
  }
  const counts = {};
  for (const item of items) counts[item.class] = (counts[item.class] ?? 0) + 1;
  canvas.setAttribute("aria-label", Object.entries(counts).map(([k, v]) => `${k}: ${v}`).join(", "));
  canvas.dataset.cells = String(items.length);
  return canvas;
}

function timeline(episodes, dayStart) {
  const day = 24 * 3600e3;
  const line = el("div", { class: "timeline", "data-episodes": episodes.length });
  for (const e of episodes) {
    const from = Math.max(0, Date.parse(e.start_time) - dayStart);
    const to = Math.min(day, Date.parse(e.end_time ?? e.last_seen) - dayStart);
    line.append(el("span", {
      class: `level-${e.level.id}`, title: description(e),
      style: `left:${(100 * from) / day}%;width:${(100 * Math.max(to - from, 0)) / day}%`,
    }));
  }
  return line;
}

function description(e) {
  return currentLanguage() === "ko" ? e.description : e.description_eng;
}

const hhmm = (text) => (text ? text.slice(11, 16) : "…");

function table(header, rows) {
  return el("table", {}, el("thead", {}, el("tr", {}, header.map((h) =>
    el("th", { scope: "col", i18n: h.includes(".") || h === "rack" ? h : undefined }, h.includes(".") || h === "rack" ? undefined : h)))),
  el("tbody", {}, rows.map((row) => el("tr", {}, row.map((v) => el("td", {}, v ?? ""))))));
}

export async function safetyPage(main) {
  const sites = await catalog();
  const state = hashParams();
  const siteSelect = siteChooser(sites, state.site);
  const bankSelect = el("select");
  const day = el("input", { type: "date" });
  const out = el("div", { class: "safety" });
  const site = () => sites.find((s) => String(s.site_id) === siteSelect.value);

  function fillSite() {
    const s = site();
    setOptions(bankSelect, s.banks.map((b) => [b.bank_id, b.bank_id]), state.bank);
    const last = s.components.find((c) => c.component === "rack")?.time_range?.last;
    day.value = state.day ?? last?.slice(0, 10) ?? "";
  }
  siteSelect.addEventListener("change", () => {
    delete state.day;
    fillSite();
  });

  async function load() {
    showProblem(null);
    const s = site();
    const bank = bankSelect.value;
    history.replaceState(null, "", "#safety?" + new URLSearchParams({ site: s.site_id, bank, day: day.value }));
    out.replaceChildren(el("p", { class: "status", i18n: "loading" }));
    out.dataset.state = "loading";
    const racks = s.banks.find((b) => String(b.bank_id) === bank).rack_count;
    const dayStart = epochOf(s.timezone, `${day.value}T00:00`);
    const base = `/api/ess/stats`;
    const where = `operating-sites/${s.site_id}/banks/${bank}`;
    const window = { date: day.value };
    try {
      const [sos, exsos, episodes, counts, socp, sol] = await Promise.all([
        api(`${base}/sos/${where}/racks/`, { params: { ...window, "time-bucket-width": BUCKET } }),
        api(`${base}/ex-sos/${where}/racks/`, { params: { ...window, "time-bucket-width": BUCKET } }),
        api(`/api/ess-feature/protectionmap/operating-sites/${s.site_id}/`, { params: { ...window, page_size: 500 } }),
        api(`/api/ess-feature/protectionmap/operating-sites/${s.site_id}/stats/log-level-count/`, {
          params: { ...window, "time-bucket-width": "1 hour" },
        }),
        api(`${base}/socp/${where}/racks/`, { params: window }),
        // end-date is excluded: 30 days either side of the day
        api(`${base}/forecasting-sol/${where}/`, {
          params: { "start-date": addDays(day.value, -30), "end-date": addDays(day.value, 31) },
        }),
      ]);
      const bankEpisodes = episodes.results.filter((e) => String(e.bank_id) === bank);
      const perLevel = {};
      for (const c of counts) perLevel[c.level] = (perLevel[c.level] ?? 0) + c.level_count;
      const weak = socp.filter((i) => i.positions.min.length)
        .map((i) => ({ ...i, cell: i.positions.min[0] }))
        .sort((a, b) => b.cell.share - a.cell.share).slice(0, 15);
      const solBox = el("div", { class: "chart", id: "sol-chart" });
      out.replaceChildren(
        el("h2", { i18n: "safety.sos" }), legend(SOS_COLORS, true),
        heatMap(sos, dayStart, SOS_COLORS, racks),
        el("h2", { i18n: "safety.exsos" }), legend(EXSOS_COLORS, false),
        heatMap(exsos, dayStart, EXSOS_COLORS, racks),
        el("h2", { i18n: "safety.protection" }), timeline(bankEpisodes, dayStart),
        bankEpisodes.length
          ? table(["safety.from", "safety.to", "rack", "safety.level", "safety.description"],
            bankEpisodes.map((e) => [hhmm(e.start_time), hhmm(e.end_time), e.rack_id, `${e.level.id} ${e.level_name}`, description(e)]))
          : el("p", { class: "status", i18n: "safety.no_events" }),
        el("h2", { i18n: "safety.counts" }),
        table(["safety.level", "safety.count"], Object.entries(perLevel).map(([level, n]) => [level, n])),
        el("h2", { i18n: "safety.socp" }),
        table(["rack", "state", "SoC %", "samples", "cell", "share"],
          weak.map((i) => [i.rack_id, i.operating_state, `${i.soc_range}–${i.soc_range + 10}`, i.samples,
            i.cell.cell_position, `${(100 * i.cell.share).toFixed(1)} %`])),
        el("h2", { i18n: "safety.sol" }), solBox,
      );
      drawSoL(solBox, sol, s.timezone);
      out.dataset.state = "drawn";
    } catch (error) {
      out.replaceChildren();
      out.dataset.state = "error";
      showProblem(error);
    }
  }

  main.append(
    el("h1", { i18n: "nav.safety" }),
    el("form", { class: "controls", onsubmit: (e) => { e.preventDefault(); load(); } },
      field("site", siteSelect), field("bank", bankSelect), field("day", day),
      el("button", { type: "submit", class: "primary", i18n: "load" })),
    out,
  );
  fillSite();
  // a site without data has no day to show yet
  if (day.value) await load();
}

function drawSoL(box, items, zone) {
  if (items.length < 2) {
    // a trend needs days: show the one value there is
    box.append(el("p", { class: "status" }, items.length ? `${items[0].date}: SoL ${items[0].value}` : t("none")));
    return;
  }
  const at = (i) => epochOf(zone, `${i.date}T00:00`) / 1000;
  const pick = (kind, key) => items.map((i) => (i.kind === kind ? i[key] : null));
  timeChart(box, {
    xs: items.map(at),
    zone,
    height: 240,
    lines: [
      { label: "SoL observed", values: pick("observed", "value") },
      { label: "SoL forecast", values: pick("forecast", "value"),
        min: items.map((i) => i.bottom_limit_value), max: items.map((i) => i.top_limit_value) },
    ],
  });
}
