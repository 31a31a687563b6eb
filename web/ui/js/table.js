// A table of rows already loaded, shown a page at a time.
import { el } from "./util.js";

const PAGE_ROWS = 25;

export function pagedTable(header, rows) {
  const box = el("div", { class: "paged" });
  const pages = Math.max(1, Math.ceil(rows.length / PAGE_ROWS));
  let page = 0;
  const body = el("tbody");
  const where = el("span", { role: "status" });
  const previous = el("button", { type: "button", i18n: "table.prev", onclick: () => show(page - 1) });
  const next = el("button", { type: "button", i18n: "table.next", onclick: () => show(page + 1) });
  function show(n) {
    page = Math.min(Math.max(n, 0), pages - 1);
    body.replaceChildren(...rows.slice(page * PAGE_ROWS, (page + 1) * PAGE_ROWS).map((row) =>
      el("tr", {}, row.map((value) => el("td", {}, value === null ? "" : String(value))))));
    where.textContent = ` ${page + 1} / ${pages} `;
    previous.disabled = page === 0;
    next.disabled = page === pages - 1;
  }
  box.append(
    el("table", {}, el("thead", {}, el("tr", {}, header.map((h) => el("th", { scope: "col" }, h)))), body),
    el("div", { class: "pager" }, previous, where, next),
  );
  show(0);
  return box;
}
