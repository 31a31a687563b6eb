// Small DOM and time helpers shared by the pages.
import { t } from "./i18n.js";

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "i18n") {
      node.dataset.i18n = value;
      node.textContent = t(value);
    } else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children.flat().filter((c) => c !== undefined && c !== null));
  return node;
}

let fieldIds = 0;
// A labelled control: <label for> + control, for keyboard and screen-reader use.
export function field(labelKey, control) {
  control.id ||= `f${++fieldIds}`;
  return el("div", { class: "field" }, el("label", { for: control.id, i18n: labelKey }), control);
}

export function select(options, value) {
  const node = el("select");
  setOptions(node, options, value);
  return node;
}

export function setOptions(node, options, value) {
  node.replaceChildren(
    ...options.map(([v, label]) => el("option", { value: v, selected: String(v) === String(value) }, label)),
  );
}

// The shared problem banner: the API's detail, or the error's message.
export function showProblem(error) {
  const banner = document.getElementById("problem");
  if (!error) {
    banner.hidden = true;
    banner.textContent = "";
    return;
  }
  const problem = error.problem;
  banner.replaceChildren(
    el("strong", {}, `${t("error")} ${error.status ?? ""} `),
    el("span", { class: "detail" }, problem?.detail ?? error.message),
    problem?.parameter ? el("code", {}, ` (${problem.parameter})`) : "",
  );
  banner.hidden = false;
}

// Naive local times "YYYY-MM-DDTHH:MM" of a site's zone <-> epoch milliseconds.
const formatters = new Map();
function partsIn(zone, ms) {
  if (!formatters.has(zone)) {
    formatters.set(zone, new Intl.DateTimeFormat("en-CA", {
      timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
    }));
  }
  return Object.fromEntries(formatters.get(zone).formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
}

export function localString(zone, ms, seconds = false) {
  const p = partsIn(zone, ms);
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}${seconds ? ":" + p.second : ""}`;
}

export function zoneOffsetMs(zone, ms) {
  const p = partsIn(zone, ms);
  return Date.UTC(+p.year, p.month - 1, +p.day, +p.hour, +p.minute, +p.second) - Math.floor(ms / 1000) * 1000;
}

export function epochOf(zone, local) {
  // local: "YYYY-MM-DDTHH:MM[:SS]" in `zone`
  const asUtc = Date.parse(local.length === 16 ? local + ":00Z" : local + "Z");
  return asUtc - zoneOffsetMs(zone, asUtc - zoneOffsetMs(zone, asUtc));
}

export function addDays(day, n) {
  const d = new Date(day + "T00:00:00Z");
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

export function formatBytes(bytes) {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (bytes >= 1000 && i < units.length - 1) {
    bytes /= 1000;
    i++;
  }
  return `${bytes.toFixed(i ? 1 : 0)} ${units[i]}`;
}

// The page's parameters after "#page?" (deep links, and how tests open a page on their data).
export function hashParams() {
  return Object.fromEntries(new URLSearchParams(location.hash.split("?")[1] || ""));
}

// The controls every page shares: a site chooser, a window in local time, a bank's racks.
export function siteChooser(sites, chosen) {
  return select(sites.map((s) => [s.site_id, `${s.site_id} ${s.name}`]), chosen);
}

export function windowInputs() {
  return [el("input", { type: "datetime-local", step: 1 }), el("input", { type: "datetime-local", step: 1 })];
}

export function fieldsChooser() {
  return el("select", { multiple: true, size: 6 });
}

export function rackOptions(site, bankId) {
  const bank = site.banks.find((b) => String(b.bank_id) === String(bankId));
  return Array.from({ length: bank?.rack_count ?? 0 }, (_, i) => [i + 1, i + 1]);
}
