// The bag (/bag): the pieces kept on this device, priced again by the server (cartQuote) for the
// shopper's address, with stock checked; lines can be changed or removed.

import * as address from "../address.js";
import { ignoreAbort } from "../api.js";
import * as bag from "../bag.js";
import { fill, h } from "../dom.js";
import { cents, fromCents, money } from "../format.js";
import { requestFailed } from "../messages.js";
import { shipToForm } from "../ship-to.js";
import { lineProblem, quoteBag, summaryView } from "../summary.js";

const MAX_QUANTITY = 5;

/** The quote confirms enough stock for the line (clears a sold-out mark checkout left). */
function confirmedInStock(quoted) {
  const a = quoted?.variant?.availability;
  return a?.status === "IN_STOCK" && a.confirmed !== false && (a.quantityAvailable ?? Infinity) >= quoted.quantity;
}

export async function render(root, ctx) {
  document.title = "Your bag — Bezel";
  const list = h("ul", { class: "bag-lines" });
  const summary = h("div", { class: "bag-summary__totals", "aria-live": "polite" });
  const notice = h("p", { class: "notice", role: "alert", hidden: true });
  const checkout = h("button", { type: "button", class: "button button--primary", "data-testid": "checkout" }, "Checkout");
  const insure = h("input", { type: "checkbox", id: "bag-insure", checked: address.insure(), "data-testid": "bag-insure" });
  let seq = 0;
  let inFlight = null;

  checkout.addEventListener("click", () => ctx.navigate("/checkout"));
  insure.addEventListener("change", () => { address.saveInsure(insure.checked); refresh().catch(ignoreAbort); });
  ctx.onCleanup(bag.onChange(() => refresh().catch(ignoreAbort)));

  fill(root,
    h("h1", {}, "Your bag"),
    h("div", { class: "bag" },
      list,
      h("aside", { class: "bag-summary", "aria-label": "Order summary" },
        shipToForm(address.shipTo(), () => refresh().catch(ignoreAbort)),
        h("div", { class: "field field--check" }, insure,
          h("label", { for: "bag-insure" }, "Insure this shipment for its full value")),
        summary, notice, checkout)));

  async function refresh() {
    const lines = bag.lines();
    if (!lines.length) {
      fill(root, h("section", { class: "empty" },
        h("h1", {}, "Your bag is empty"),
        h("p", {}, "Every piece is made to be kept. ", h("a", { href: "/" }, "Discover our pieces"), ".")));
      return;
    }
    const mine = ++seq;
    inFlight?.abort();
    inFlight = new AbortController();
    const signal = AbortSignal.any([ctx.signal, inFlight.signal]);
    paintLines(lines, null);
    summary.setAttribute("aria-busy", "true");
    checkout.disabled = true;
    let priced;
    try {
      priced = await quoteBag(lines, address.shipTo(), insure.checked, signal);
    } catch (err) {
      if (err?.name === "AbortError") return;
      throw err;
    }
    if (mine !== seq) return;
    summary.setAttribute("aria-busy", "false");
    const problems = paintLines(lines, priced);
    fill(summary, summaryView(lines, priced, { insure: insure.checked }));
    notice.hidden = !(priced.failed || problems);
    if (problems) notice.textContent = "Some pieces in your bag can't be ordered as they are. Please see the notes above.";
    else if (priced.error) notice.textContent = requestFailed(priced.error);
    else if (priced.failed) notice.textContent = "We couldn't price your bag just now. You can still check out; we'll confirm every price first.";
    checkout.disabled = problems > 0;
    ctx.complete();
  }

  /** Paints the lines (with the quote's prices and stock when given); returns how many can't be ordered. */
  function paintLines(lines, priced) {
    let problems = 0;
    fill(list, lines.map((line, i) => {
      const quoted = priced?.quote?.lines[i];
      const matches = quoted?.variant?.id === line.variantId;
      let problem = matches ? lineProblem(quoted) : "";
      if (!problem && line.soldOut && !(matches && confirmedInStock(quoted))) {
        problem = "Sold out — please remove it from your bag to check out.";
      }
      if (priced?.unknownLines.has(i)) problem = "We no longer offer this piece. Please remove it from your bag.";
      if (problem) problems += 1;
      return lineView(line, i, matches ? quoted : null, problem);
    }));
    return problems;
  }

  function lineView(line, i, quoted, problem) {
    const quantity = h("select", { id: `qty-${i}`, "aria-label": `Quantity of ${line.title}` },
      Array.from({ length: Math.max(MAX_QUANTITY, line.quantity) }, (_, i) => i + 1)
        .map((n) => h("option", { value: String(n), selected: n === line.quantity }, String(n))));
    quantity.addEventListener("change", () => bag.setQuantity(line.key, Number(quantity.value)));
    const remove = h("button", { type: "button", class: "link-button", "aria-label": `Remove ${line.title} from your bag` }, "Remove");
    remove.addEventListener("click", () => bag.remove(line.key));
    return h("li", { class: "bag-line", "data-testid": "bag-line", "data-variant-id": line.variantId, "data-problem": problem ? "true" : null },
      line.image ? h("img", { class: "bag-line__image", src: line.image, alt: line.title, width: 120, height: 120 }) : null,
      h("div", { class: "bag-line__info" },
        h("h2", { class: "bag-line__title" }, h("a", { href: `/products/${encodeURIComponent(line.handle)}` }, line.title)),
        line.variantTitle && line.variantTitle !== "Default Title" ? h("p", { class: "bag-line__variant" }, line.variantTitle) : null,
        line.engravingText ? h("p", { class: "bag-line__engraving" }, `Engraved: “${line.engravingText}”`) : null,
        problem ? h("p", { class: "bag-line__problem", role: "alert" }, problem) : null,
        h("div", { class: "bag-line__actions" }, h("label", { for: `qty-${i}` }, "Qty"), quantity, remove)),
      h("p", { class: "bag-line__price" },
        money(quoted ? quoted.lineTotal : fromCents(cents(line.price.amount) * line.quantity, line.price.currencyCode))));
  }

  await refresh();
  ctx.complete();
}
