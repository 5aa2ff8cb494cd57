// The shop window (/): a grid of pieces, twelve at a time, with "Show more" following the cursor.

import { ignoreAbort, request } from "../api.js";
import { h } from "../dom.js";
import { price } from "../format.js";
import { requestFailed } from "../messages.js";

const PAGE_SIZE = 12;

export async function render(root, ctx) {
  document.title = "Fine jewelry — Bezel";
  const grid = h("ul", { class: "product-grid", "aria-label": "Our pieces" });
  const status = h("p", { class: "list-status", role: "status" });
  const more = h("button", { type: "button", class: "button button--quiet", hidden: true, "data-testid": "more" }, "Show more pieces");
  root.append(
    h("section", { class: "intro" },
      h("h1", {}, "Fine jewelry"),
      h("p", {}, "Engagement rings, wedding bands and one-of-a-kind pieces, made and restored in our workshop.")),
    grid, status, h("div", { class: "list-more" }, more),
  );

  let cursor = null;
  async function loadPage() {
    more.disabled = true;
    status.textContent = cursor ? "Bringing out more pieces…" : "";
    try {
      const { data } = await request("ProductList", { first: PAGE_SIZE, after: cursor }, { signal: ctx.signal });
      const page = data?.products;
      if (!page) {
        status.textContent = "We can't show our pieces right now. Please try again in a moment.";
        return;
      }
      grid.append(...page.nodes.map(card));
      cursor = page.pageInfo.endCursor;
      more.hidden = !page.pageInfo.hasNextPage;
      status.textContent = "";
      if (!grid.children.length) status.textContent = "Our cases are being restocked. Please visit again soon.";
    } catch (err) {
      if (err?.name === "AbortError") throw err;
      status.textContent = requestFailed(err);
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener("click", () => loadPage().catch(ignoreAbort));
  await loadPage();
  ctx.complete();
}

function card(product) {
  const image = product.images[0];
  const { minVariantPrice: min, maxVariantPrice: max } = product.priceRange;
  return h("li", { class: "product-card", "data-testid": "product-card" },
    h("a", { class: "product-card__link", href: `/products/${encodeURIComponent(product.handle)}` },
      h("div", { class: "product-card__frame" },
        image
          ? h("img", { src: image.url, alt: image.altText || product.title, loading: "lazy", width: 480, height: 480 })
          : h("div", { class: "product-card__placeholder", "aria-hidden": "true" })),
      h("h2", { class: "product-card__title" }, product.title),
      h("p", { class: "product-card__price" }, min.amount === max.amount ? price(min) : `From ${price(min)}`)));
}
