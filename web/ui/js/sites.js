// Sites: topology, stored range per component; with a token, completeness and latest SoC / SoS.
import { api, catalog, token } from "./api.js";
import { currentLanguage, t } from "./i18n.js";
import { el } from "./util.js";

const HOUR_MS = 3600e3;

function siteName(site) {
  return currentLanguage() === "ko" && site.name_ko ? site.name_ko : site.name;
}

function definitions(pairs) {
  return el("dl", {}, pairs.flatMap(([key, value]) =>
    [el("dt", key.includes(".") ? { i18n: key } : {}, key.includes(".") ? undefined : key), el("dd", {}, value)]));
}

// The site's sampling interval in seconds, from the first two rows of a bank's last hour
// (1 s in the specification; the demo writes every 10 s).
async function cadence(site, last) {
  const page = await api(`/api/ess/operating-sites/${site.site_id}/banks/${site.banks[0].bank_id}/`, {
    params: {
      "start-time": new Date(Date.parse(last) - HOUR_MS).toISOString(),
      "end-time": new Date(Date.parse(last) + 1000).toISOString(),
      page_size: 2,
    },
  });
  const [a, b] = page.results.map((r) => Date.parse(r.timestamp));
  return b > a ? Math.max(1, Math.round((b - a) / 1000)) : 1;
}

async function completeness(site) {
  const bank = site.components.find((c) => c.component === "bank" && c.time_range);
  if (!bank || !site.banks.length) return null;
  const day = bank.time_range.last.slice(0, 10);
  const seconds = await cadence(site, bank.time_range.last);
  const days = await api(`/api/ess/operating-sites/${site.site_id}/completeness/`, {
    params: { "start-date": day, "end-date": day, "sample-interval": `${seconds}s` },
  });
  return el("ul", { class: "completeness" }, days.map((d) => el("li", {},
    `${d.date} ${t(`comp.${d.component}`)}: ${(100 - d.missing_pct).toFixed(1)} % (${d.status}, ${seconds} s)`)));
}

async function latestBank(site, bank) {
  const bankComponent = site.components.find((c) => c.component === "bank");
  const socColumn = bankComponent?.columns.find((c) => /soc$/i.test(c.name))?.name;
  const last = site.components.find((c) => c.component === "rack")?.time_range?.last;
  const [soc, sos] = await Promise.all([
    socColumn ? api(`/api/ess/operating-sites/${site.site_id}/banks/${bank.bank_id}/latest/`, {
      params: { fields: socColumn },
    }) : null,
    last ? api(`/api/ess/stats/sos/operating-sites/${site.site_id}/banks/${bank.bank_id}/racks/`, {
      params: {
        "start-time": new Date(Date.parse(last) - HOUR_MS).toISOString(),
        "end-time": new Date(Date.parse(last) + 1000).toISOString(),
        "time-bucket-width": "1 hour",
      },
    }) : [],
  ]);
  const socValue = soc?.results?.[0]?.[socColumn];
  const latest = sos.filter((i) => i.time === sos.at(-1)?.time && i.sos_score !== null);
  const worst = latest.reduce((w, i) => (w === null || i.sos_score < w.sos_score ? i : w), null);
  return el("li", {}, `${t("bank")} ${bank.bank_id}: SoC ${socValue ?? "–"} %, SoS `,
    worst ? el("span", { class: `sos-${worst.class}` },
      `${worst.sos_score.toFixed(3)} (${t(`class.${worst.class}`)}, ${t("rack")} ${worst.rack_id})`) : "–");
}

function siteCard(site) {
  const card = el("section", { class: "card", "data-site": site.site_id },
    el("h2", {}, `${site.site_id} · ${siteName(site)} (${site.code})`),
    definitions([
      ["sites.timezone", site.timezone],
      ["sites.topology", Object.entries(site.topology).map(([k, v]) => `${k}: ${v}`).join(", ")],
      ["sites.banks", site.banks.map((b) => `${b.bank_id}: ${b.rack_count} ${t("sites.racks")}`).join(" · ")],
      ...site.components.map((c) => [`comp.${c.component}`, c.time_range
        ? `${c.time_range.first.slice(0, 19).replace("T", " ")} – ${c.time_range.last.slice(0, 19).replace("T", " ")}`
        : t("none")]),
    ]));
  if (!token.get()) card.append(el("p", { class: "status", i18n: "sites.needs_token" }));
  return card;
}

async function siteDetails(site, card) {
  const days = await completeness(site);
  const banks = [];
  for (const bank of site.banks) banks.push(await latestBank(site, bank));
  card.append(el("h3", { i18n: "sites.completeness" }), days ?? t("none"),
    el("h3", { i18n: "sites.latest" }), el("ul", {}, banks));
}

export async function sitesPage(main) {
  const sites = await catalog();
  main.append(el("h1", { i18n: "nav.sites" }));
  const cards = sites.map(siteCard);
  main.append(el("div", { class: "cards" }, cards));
  if (!token.get()) return;
  // one site after the other: the catalog shows at once, the database sees one query at a time
  for (const [i, site] of sites.entries()) await siteDetails(site, cards[i]);
}
