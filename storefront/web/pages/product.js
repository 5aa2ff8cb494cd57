// The product page (/products/<handle>): two requests at once, as a real shop splits it. ProductPublic
// (by GET, its only variable the handle, so an edge may cache it) brings title, price, gallery and option
// pickers in its first part and every variant's stock; ProductShopper (by POST: the ship-to address and
// the engraving text are the shopper's) brings tax, insurance, financing and the engraving preview.
// Each part is painted as it arrives, whichever request it comes in.
//
// `?defer=0` asks for each answer in one piece (no streaming), for comparison.
// `?zip=10123` (5 digits) ships the estimates to that ZIP, in the state this device remembers (else
// New York), and `?engraving=Love+0042` prefills the engraving text and previews it in the first
// request: a link, or a benchmark loading the page as ever-new shoppers. Neither is remembered.
// Performance marks: "bezel:request" right before the ProductPublic request is sent, "bezel:title"
// once the title is on screen, "bezel:complete" once every part is (or says it is unavailable);
// body[data-page-state] becomes "complete" at that moment.
// Once every part is in, the page follows the piece live (ProductChanged, live.js): a sale anywhere
// shows "Sold out" and disables the bag button, a price edit repaints the price, as they happen;
// body[data-live] says whether it is following.

import { ignoreAbort, request, stream } from "../api.js";
import { follow } from "../live.js";
import * as address from "../address.js";
import * as bag from "../bag.js";
import { deepMerge } from "../incremental.js";
import { h, fill } from "../dom.js";
import { price, priceRange, ago } from "../format.js";
import { errorWithCode } from "../messages.js";
import { engraving, SAMPLE_TEXT } from "../product/engraving.js";
import { findVariant, pickers, selectionOf } from "../product/options.js";
import { paintFinancing, paintInsurance, paintTax } from "../product/quotes.js";
import { shipToForm } from "../ship-to.js";
import { describeStock } from "../product/stock.js";

// Each deferred label, the field it fills and the vendor behind it.
const QUOTE_FIELDS = { tax: "taxEstimate", insurance: "shippingInsurance", financing: "financing" };
const VENDORS = { stock: "inventory", tax: "tax", insurance: "insurance", financing: "bnpl", engraving: "engraving" };
const PARTS = ["stock", "tax", "insurance", "financing", "engraving"];
const SHOPPER_PARTS = ["tax", "insurance", "financing", "engraving"];

export async function render(root, ctx) {
  for (const mark of ["bezel:request", "bezel:title", "bezel:complete"]) performance.clearMarks(mark);
  document.title = "Bezel Fine Jewelry";
  const handle = ctx.params.handle;
  const shipTo = shipToOf(ctx.query);
  const engravingText = (ctx.query.get("engraving") ?? "").trim();
  const incremental = ctx.query.get("defer") !== "0";
  root.append(skeleton());

  // The shopper's part: its result so far (null until its first part), and whether it failed before any.
  const shopper = { result: null, failed: false };
  const stop = new AbortController(); // the shopper's request, once the public part says there is no page
  const signal = AbortSignal.any([ctx.signal, stop.signal]);
  let page = null;
  const shopperDone = (async () => {
    try {
      const variables = { handle, shipTo, engraving: { text: engravingText || SAMPLE_TEXT } };
      for await (const { result, touched } of stream("ProductShopper", variables, { signal, incremental })) {
        shopper.result = result;
        page?.paint(touched.size ? touched : SHOPPER_PARTS);
      }
    } catch (err) {
      if (err?.name === "AbortError" || signal.aborted) return;
      shopper.failed = true; // the page stands without it: each part says it is unavailable
    }
    page?.paint(SHOPPER_PARTS);
  })();

  try {
    const publicParts = stream("ProductPublic", { handle }, { signal: ctx.signal, incremental, mark: "bezel:request" });
    for await (const { result, touched } of publicParts) {
      if (!page) {
        if (!result.data?.product) return missing(root, ctx, result);
        page = productPage(root, ctx, result, shopper, shipTo, engravingText);
        requestAnimationFrame(() => performance.mark("bezel:title"));
        page.paint(PARTS);
      } else {
        page.paint(touched);
      }
    }
  } finally {
    if (!page) stop.abort();
  }
  await shopperDone;
  ctx.signal.throwIfAborted();
  page.paint(PARTS); // whatever never came is now shown as unavailable
  follow("ProductChanged", { handle }, { ctx, onData: (data) => { if (data?.productChanged) page.update(data.productChanged); } });
}

/** The address the estimates are for: `?zip=` in the remembered state (else New York), or the remembered one. */
function shipToOf(query) {
  const remembered = address.shipTo();
  const zip = query.get("zip")?.trim();
  return zip && /^\d{5}$/.test(zip) ? { ...remembered, zip } : remembered;
}

function productPage(root, ctx, result, shopper, initialShipTo, initialEngraving) {
  const product = result.data.product;
  const first = defaultVariant(product);
  const state = {
    variant: first, // null when the chosen combination is not made
    selection: first ? selectionOf(first) : {},
    lookupPending: false,
    shipTo: initialShipTo,
    quotes: null, // null: the estimates from ProductShopper; else {pending, product, errors} from ProductQuotes
  };
  let completeMarked = false;
  let shopperChose = false; // once the shopper picks an option, the page never picks for them
  let variantSeq = 0;
  let quoteSeq = 0;
  let quoteAbort = null;
  document.title = `${product.title} — Bezel`;

  // --- the elements -----------------------------------------------------------------------
  const priceEl = h("p", { class: "product__price", "data-testid": "price" });
  const stockEl = h("p", { class: "product__stock", "data-testid": "stock", role: "status" });
  const addButton = h("button", { type: "button", class: "button button--primary", "data-testid": "add-to-bag" }, "Add to bag");
  const added = h("p", { class: "product__added", role: "status" });
  const taxEl = h("div", { class: "estimate", "data-testid": "tax" });
  const insuranceEl = h("div", { class: "estimate", "data-testid": "insurance" });
  const financingEl = h("div", { class: "estimate", "data-testid": "financing" });
  const options = pickers(product, state.selection, (selection) => onSelection(selection).catch(ignoreAbort));
  const engraver = product.engravable
    ? engraving({ handle: product.handle, signal: ctx.signal, onValidity: paintButton, initialText: initialEngraving })
    : null;
  const catalogNote = product.freshness?.source === "STALE"
    ? h("p", { class: "hint" }, `Details as of ${ago(product.freshness.ageMs)}.`) : null;

  fill(root, h("article", { class: "product" },
    gallery(product),
    h("div", { class: "product__details" },
      h("p", { class: "breadcrumb" }, h("a", { href: "/" }, "Shop"), " / ", product.title),
      h("h1", { class: "product__title", "data-testid": "product-title" }, product.title),
      priceEl,
      stockEl,
      h("form", { class: "product__form", "aria-label": "Choose your piece", onsubmit: (e) => e.preventDefault() },
        options.el, engraver?.el, addButton, added),
      h("section", { class: "estimates", "aria-label": "Delivery and payment" },
        h("h2", { class: "visually-hidden" }, "Delivery and payment"),
        shipToForm(initialShipTo, onShipTo),
        taxEl, insuranceEl, financingEl),
      h("div", { class: "product__description" }, h("p", {}, product.description), catalogNote))));

  addButton.addEventListener("click", addToBag);

  // --- what each part shows ---------------------------------------------------------------
  function errorsFor(part, path, errors) {
    return errors.filter((e) => (Array.isArray(e.path)
      ? path.every((k, i) => e.path[i] === k)
      : e.extensions?.vendor === VENDORS[part]));
  }

  /** {value, errors, pending} of a part: stock from ProductPublic, the rest from ProductQuotes if the shopper asked again, else ProductShopper. */
  function partOf(name) {
    if (name === "stock") {
      const availability = state.variant?.availability;
      return { value: availability, errors: [], pending: !availability && (state.lookupPending || result.isPending("stock")) };
    }
    const field = name === "engraving" ? "engravingPreview" : QUOTE_FIELDS[name];
    const path = ["product", field];
    if (state.quotes && name !== "engraving") {
      return { value: state.quotes.product?.[field] ?? null, errors: errorsFor(name, path, state.quotes.errors), pending: state.quotes.pending };
    }
    const answer = shopper.result;
    if (!answer) return { value: null, errors: [], pending: !shopper.failed };
    return { value: answer.data?.product?.[field] ?? null, errors: errorsFor(name, path, answer.errors), pending: answer.isPending(name) };
  }

  function paintPrice() {
    priceEl.textContent = state.variant ? price(state.variant.price) : priceRange(product.priceRange);
  }

  function paintStock() {
    if (!state.variant) {
      stockEl.textContent = "This combination isn't made. Please choose another.";
      stockEl.dataset.tone = "unknown";
      stockEl.dataset.state = "ready";
      return;
    }
    const part = partOf("stock");
    const { text, tone } = describeStock(part.value, { pending: part.pending });
    stockEl.textContent = text;
    stockEl.dataset.tone = tone;
    stockEl.dataset.state = part.pending ? "pending" : "ready";
  }

  function paintButton() {
    const soldOut = state.variant?.availability?.status === "OUT_OF_STOCK";
    addButton.disabled = !state.variant || soldOut || (engraver ? !engraver.valid() : false);
    addButton.textContent = soldOut ? "Sold out" : "Add to bag";
  }

  /** The first choice sold out and the shopper chose nothing yet: show the lowest-priced piece in stock. */
  function skipSoldOutDefault() {
    if (shopperChose || state.variant?.availability?.status !== "OUT_OF_STOCK") return;
    const inStock = product.variants.filter((v) => v.availability && v.availability.status !== "OUT_OF_STOCK");
    const next = inStock.reduce((best, v) => (!best || Number(v.price.amount) < Number(best.price.amount) ? v : best), null);
    if (!next) return; // every variant is sold out: say so
    shopperChose = true; // once
    state.variant = next;
    state.selection = selectionOf(next);
    options.select(state.selection);
    paintPrice();
    engraver?.setVariant(next.id);
    requote().catch(ignoreAbort); // the estimates were for the first choice's price
  }

  const painters = {
    stock: () => { skipSoldOutDefault(); paintStock(); paintButton(); options.annotate(state.selection); },
    tax: () => paintTax(taxEl, partOf("tax"), state.shipTo),
    insurance: () => paintInsurance(insuranceEl, partOf("insurance")),
    financing: () => paintFinancing(financingEl, partOf("financing")),
    engraving: () => engraver?.paintInitial(partOf("engraving")),
  };

  /** Paints the given parts, then marks the page complete once no part is pending any more. */
  function paint(parts) {
    for (const name of parts) painters[name]?.();
    if (completeMarked || PARTS.some((name) => (name === "engraving" && !engraver ? false : partOf(name).pending))) return;
    completeMarked = true;
    requestAnimationFrame(() => {
      performance.mark("bezel:complete");
      ctx.complete();
    });
  }

  // --- what the shopper does --------------------------------------------------------------
  async function onSelection(selection) {
    shopperChose = true;
    state.selection = selection;
    state.variant = findVariant(product.variants, selection);
    state.lookupPending = true;
    added.textContent = "";
    paintPrice();
    paint(["stock"]);
    engraver?.setVariant(state.variant?.id ?? null);
    const mine = ++variantSeq;
    try {
      const selectedOptions = Object.entries(selection).map(([name, value]) => ({ name, value }));
      const answer = await request("VariantBySelectedOptions", { handle: product.handle, selectedOptions }, { signal: ctx.signal });
      if (mine !== variantSeq) return;
      const found = answer.data?.product?.variantBySelectedOptions;
      if (found) {
        const local = product.variants.find((v) => v.id === found.id);
        state.variant = local ? deepMerge(local, found) : found; // fresh price and stock
      } else if (answer.data?.product && !errorWithCode(answer.errors, "VENDOR_UNAVAILABLE")) {
        state.variant = null; // not made in this combination
      }
    } catch (err) {
      if (err?.name === "AbortError") return;
      // keep what the page already knew about this variant
    } finally {
      if (mine === variantSeq) state.lookupPending = false;
    }
    if (mine !== variantSeq) return;
    paintPrice();
    paint(["stock"]);
    if (state.variant) await requote();
  }

  function onShipTo(next) {
    state.shipTo = next;
    requote().catch(ignoreAbort);
  }

  /** Tax, insurance and financing again, for the current address and variant (ProductQuotes). */
  async function requote() {
    const mine = ++quoteSeq;
    quoteAbort?.abort();
    quoteAbort = new AbortController();
    const signal = AbortSignal.any([ctx.signal, quoteAbort.signal]);
    state.quotes = { pending: true, product: null, errors: [] };
    paint(Object.keys(QUOTE_FIELDS));
    let quotes;
    try {
      const answer = await request("ProductQuotes", {
        handle: product.handle, shipTo: state.shipTo, variantId: state.variant?.id ?? null,
      }, { signal });
      quotes = { pending: false, product: answer.data?.product ?? null, errors: answer.errors };
    } catch (err) {
      if (err?.name === "AbortError") return;
      quotes = { pending: false, product: null, errors: [] };
    }
    if (mine !== quoteSeq) return;
    state.quotes = quotes;
    paint(Object.keys(QUOTE_FIELDS));
  }

  function addToBag() {
    const variant = state.variant;
    if (!variant || addButton.disabled) return;
    bag.add({
      variantId: variant.id,
      quantity: 1,
      engravingText: engraver?.text() || null,
      title: product.title,
      variantTitle: variant.title,
      price: variant.price,
      handle: product.handle,
      image: product.images[0]?.url ?? null,
    });
    fill(added, "Added to your bag. ", h("a", { href: "/bag" }, "View your bag"));
  }

  /** A ProductChanged message: the prices and every variant's stock now. The shopper's choice stays theirs. */
  function update(live) {
    const before = state.variant?.price?.amount;
    if (live.priceRange) product.priceRange = live.priceRange;
    for (const fresh of live.variants ?? []) {
      const changes = { price: fresh.price, availability: fresh.availability };
      const local = product.variants.find((v) => v.id === fresh.id);
      if (local) Object.assign(local, changes);
      if (state.variant?.id === fresh.id && state.variant !== local) Object.assign(state.variant, changes);
    }
    paintPrice();
    paintStock();
    paintButton();
    options.annotate(state.selection);
    if (state.variant && state.variant.price?.amount !== before) requote().catch(ignoreAbort); // priced anew
  }

  paintPrice();
  paintButton();
  return { paint, update };
}

/** The lowest-priced variant (what the page's first estimates are for), first in catalog order. */
function defaultVariant(product) {
  return product.variants.reduce((best, v) => (!best || Number(v.price.amount) < Number(best.price.amount) ? v : best), null);
}

function gallery(product) {
  const images = product.images;
  if (!images.length) return h("div", { class: "gallery gallery--empty", "aria-hidden": "true" });
  const main = h("img", {
    class: "gallery__main", src: images[0].url, alt: images[0].altText || product.title,
    width: 800, height: 800, fetchpriority: "high",
  });
  const thumbs = images.length > 1
    ? h("div", { class: "gallery__thumbs" }, images.map((image, i) => h("button", {
      type: "button", class: "gallery__thumb", "aria-label": `Show image ${i + 1} of ${images.length}`,
      onclick: () => { main.src = image.url; main.alt = image.altText || product.title; },
    }, h("img", { src: image.url, alt: "", width: 96, height: 96, loading: "lazy" }))))
    : null;
  return h("div", { class: "gallery" }, main, thumbs);
}

function skeleton() {
  return h("article", { class: "product product--loading", "aria-busy": "true" },
    h("div", { class: "gallery gallery--empty" }),
    h("div", { class: "product__details" },
      h("p", { class: "visually-hidden", role: "status" }, "Bringing out the piece…"),
      h("div", { class: "skeleton skeleton--title" }),
      h("div", { class: "skeleton skeleton--line" }),
      h("div", { class: "skeleton skeleton--line" })));
}

function missing(root, ctx, result) {
  const down = errorWithCode(result.errors, "VENDOR_UNAVAILABLE") || errorWithCode(result.errors, "INTERNAL_SERVER_ERROR");
  document.title = down ? "Bezel Fine Jewelry" : "Not found — Bezel";
  fill(root, h("section", { class: "notice notice--page", role: "alert" },
    h("h1", {}, down ? "We're sorry" : "We couldn't find that piece"),
    h("p", {}, down
      ? "We can't show this piece right now. Please try again in a moment."
      : "It may have found its home with someone else. Our other pieces are waiting for you."),
    h("p", {}, h("a", { href: "/" }, "Back to the shop"))));
  ctx.complete();
}
