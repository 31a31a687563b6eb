// Download: a CSV of any size streamed by the browser to disk. De-identified data is public;
// raw data goes through a signed link asked for with the token (never a token in a URL).
import { api, catalog, token } from "./api.js";
import { t } from "./i18n.js";
import {
  el, field, fieldsChooser, formatBytes, hashParams, rackOptions, setOptions, showProblem, siteChooser, windowInputs,
} from "./util.js";
import { presetWindow } from "./explorer.js";

const SAMPLE_ROWS = 200;

function prefix(kind, site) {
  return kind === "deid" ? `/api/ess/di/operating-sites/${site}` : `/api/ess/operating-sites/${site}`;
}

// The page URLs whose rows together make up the download (for the expected size).
function pagePaths(kind, site, component, bank, rack, banks) {
  const base = prefix(kind, site);
  if (component === "pcs" || component === "etc") return [`${base}/${component}/`];
  const chosen = bank ? [bank] : banks.map((b) => b.bank_id);
  if (component === "bank") return chosen.map((b) => `${base}/banks/${b}/`);
  if (bank && rack) return [`${base}/banks/${bank}/racks/${rack}/`];
  return chosen.map((b) => `${base}/banks/${b}/racks/`);
}

export function downloadUrl({ kind, site, component, bank, rack, fields, start, end }) {
  const path = kind === "deid"
    ? `/api/ess/download/di/operating-sites/${site}/${component}/`
    : `/api/ess/download/operating-sites/${site}/${component}/`;
  const params = new URLSearchParams({ "start-time": start, "end-time": end });
  if (bank && (component === "bank" || component === "rack")) params.set("bank", bank);
  if (rack && component === "rack") params.set("rack", rack);
  if (fields.length) params.set("fields", fields.join(","));
  return `${path}?${params}`;
}

async function csvBytesPerRow(path, window, fields) {
  const headers = { Accept: "text/csv" };
  if (token.get()) headers.Authorization = `Bearer ${token.get()}`;
  const params = new URLSearchParams({ ...window, page_size: SAMPLE_ROWS });
  if (fields.length) params.set("fields", fields.join(","));
  const response = await fetch(`${path}?${params}`, { headers });
  if (!response.ok) return 0;
  const lines = (await response.text()).split("\n").filter(Boolean);
  if (lines.length < 2) return 0;
  return lines.slice(1).reduce((sum, line) => sum + line.length + 1, 0) / (lines.length - 1);
}

export async function downloadPage(main) {
  const sites = await catalog();
  const state = hashParams();
  const siteSelect = siteChooser(sites, state.site);
  const [componentSelect, bankSelect, rackSelect, kind] = [el("select"), el("select"), el("select"), el("select")];
  const fieldsSelect = fieldsChooser();
  const [start, end] = windowInputs();
  const estimate = el("p", { class: "status", role: "status", id: "estimate" });
  const message = el("p", { class: "status", role: "status", id: "download-status" });
  let dictionary = null; // the de-identified names of the chosen site

  const site = () => sites.find((s) => String(s.site_id) === siteSelect.value);
  const chosen = () => ({
    kind: kind.value, site: siteSelect.value, component: componentSelect.value,
    bank: bankSelect.value, rack: rackSelect.value,
    fields: [...fieldsSelect.selectedOptions].map((o) => o.value), start: start.value, end: end.value,
  });

  function fillKind() {
    setOptions(kind, [["deid", t("download.deid")], ["raw", t("download.raw")]], kind.value || "deid");
  }
  async function fillSite() {
    const s = site();
    setOptions(componentSelect, s.components.map((c) => [c.component, t(`comp.${c.component}`)]), "rack");
    setOptions(bankSelect, [["", t("download.all")], ...s.banks.map((b) => [b.bank_id, b.bank_id])]);
    dictionary = kind.value === "deid" ? await api(`/api/ess/di/operating-sites/${s.site_id}/`) : null;
    fillComponent();
  }
  function fillRacks() {
    setOptions(rackSelect, [["", t("download.all")], ...rackOptions(site(), bankSelect.value)]);
    rackSelect.disabled = !bankSelect.value || componentSelect.value !== "rack";
  }
  function fillComponent() {
    const component = componentSelect.value;
    const raw = site().components.find((c) => c.component === component);
    const keys = new Set(raw.key_columns);
    const columns = dictionary
      ? dictionary.components.find((c) => c.component === component).columns.map((c) => c.name)
      : raw.columns.map((c) => c.name);
    setOptions(fieldsSelect, columns.filter((name) => !keys.has(name)).map((name) => [name, name]));
    bankSelect.disabled = !["bank", "rack"].includes(component);
    fillRacks();
    if (raw.time_range) [start.value, end.value] = presetWindow(raw.time_range, "preset.1d");
    estimate.textContent = "";
  }
  siteSelect.addEventListener("change", fillSite);
  kind.addEventListener("change", fillSite);
  componentSelect.addEventListener("change", fillComponent);
  bankSelect.addEventListener("change", fillRacks);

  async function check() {
    showProblem(null);
    const c = chosen();
    const window = { "start-time": c.start, "end-time": c.end };
    estimate.textContent = t("loading");
    try {
      const paths = pagePaths(c.kind, c.site, c.component, c.bank, c.rack, site().banks);
      const pages = await Promise.all(paths.map((path) => api(path, {
        params: { ...window, fields: c.fields.join(","), page_size: 1, count: "estimated" },
      })));
      const rows = pages.reduce((sum, page) => sum + (page.count ?? 0), 0);
      const perRow = await csvBytesPerRow(paths[0], window, c.fields);
      estimate.dataset.rows = String(rows);
      estimate.replaceChildren(el("span", { i18n: "download.estimate" }),
        `: ~${rows.toLocaleString()} `, el("span", { i18n: "download.rows" }),
        `, ~${formatBytes(rows * perRow)} CSV`);
    } catch (error) {
      estimate.textContent = "";
      showProblem(error);
    }
  }

  async function startDownload() {
    showProblem(null);
    message.textContent = "";
    const c = chosen();
    let url = downloadUrl(c);
    if (c.kind === "raw") {
      if (!token.get()) {
        message.dataset.i18n = "download.needs_token";
        message.textContent = t("download.needs_token");
        message.classList.add("warning");
        return;
      }
      try {
        url = (await api("/api/ess/download-links/", { method: "POST", body: { url } })).url;
      } catch (error) {
        showProblem(error);
        return;
      }
    }
    // a navigation, not fetch(): the browser streams the attachment to disk
    const link = el("a", { href: url, download: "" });
    document.body.append(link);
    link.click();
    link.remove();
    message.classList.remove("warning");
    message.dataset.i18n = "download.started";
    message.textContent = t("download.started");
  }

  fillKind();
  main.append(
    el("h1", { i18n: "nav.download" }),
    el("form", { class: "controls", onsubmit: (e) => { e.preventDefault(); startDownload(); } },
      field("download.kind", kind), field("site", siteSelect), field("component", componentSelect),
      field("bank", bankSelect), field("rack", rackSelect), field("fields", fieldsSelect),
      field("start", start), field("end", end),
      el("button", { type: "button", i18n: "download.check", onclick: check }),
      el("button", { type: "submit", i18n: "download.start", class: "primary", id: "download-start" })),
    estimate,
    message,
  );
  await fillSite();
}
