// The shell: hash routes to pages, the token form, the language toggle.
import { token } from "./api.js";
import { applyLabels, t, toggleLanguage } from "./i18n.js";
import { showProblem } from "./util.js";
import { downloadPage } from "./download.js";
import { explorerPage } from "./explorer.js";
import { forecastsPage } from "./forecasts.js";
import { safetyPage } from "./safety.js";
import { sitesPage } from "./sites.js";

const PAGES = {
  sites: sitesPage, explorer: explorerPage, safety: safetyPage, forecasts: forecastsPage, download: downloadPage,
};

function showTokenState() {
  const state = document.getElementById("token-state");
  state.dataset.i18n = token.get() ? "token.set" : "token.none";
  state.textContent = t(state.dataset.i18n);
}

async function route() {
  const name = location.hash.slice(1).split("?")[0] || "sites";
  const page = PAGES[name] ?? sitesPage;
  for (const link of document.querySelectorAll("nav a")) {
    link.toggleAttribute("aria-current", link.getAttribute("href") === `#${name}`);
  }
  const main = document.getElementById("page");
  showProblem(null);
  main.replaceChildren();
  main.dataset.page = name;
  main.dataset.state = "loading";
  try {
    await page(main);
  } catch (error) {
    showProblem(error);
  }
  main.dataset.state = "ready";
}

function start() {
  const input = document.getElementById("token");
  document.getElementById("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (input.value.trim()) token.set(input.value);
    input.value = "";
    showTokenState();
    route();
  });
  document.getElementById("token-clear").addEventListener("click", () => {
    token.clear();
    showTokenState();
    route();
  });
  document.getElementById("lang").addEventListener("click", (event) => {
    toggleLanguage();
    event.target.textContent = t("lang.other");
    applyLabels();
  });
  document.getElementById("lang").textContent = t("lang.other");
  applyLabels();
  showTokenState();
  window.addEventListener("hashchange", route);
  route();
}

start();
