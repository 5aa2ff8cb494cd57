// The order page (/orders/<id>): the order, read with the token kept on this device (POST only),
// and where it is on its way: looked up again every 2 s until the order system (ERP), the
// workshop (WMS) and the customer records (CRM) all have it.

import { request } from "../api.js";
import { fill, h } from "../dom.js";
import { money } from "../format.js";
import { requestFailed } from "../messages.js";
import * as orders from "../orders.js";

const POLL_MS = 2000;
const MUST_SYNC = ["ERP", "WMS", "CRM"]; // the order is "on its way" once these have it

// What each downstream system means to the shopper.
const SYSTEMS = {
  ERP: "Order record",
  WMS: "Workshop and shipping",
  CRM: "Confirmation email",
  INSURANCE: "Shipping insurance",
};

export async function render(root, ctx) {
  const id = ctx.params.id;
  document.title = "Your order — Bezel";
  const token = orders.tokenFor(id);
  if (!token) return notHere(root, ctx);

  const view = h("div", { class: "order" });
  const status = h("p", { class: "order__progress", role: "status" });
  fill(root, view, status);
  let timer = null;
  let failures = 0;
  ctx.onCleanup(() => clearTimeout(timer));

  async function poll() {
    let order;
    try {
      const result = await request("OrderLookup", { id, token }, { signal: ctx.signal });
      order = result.data?.order;
      if (order === null && result.data) return notHere(root, ctx);
      if (!order) throw Object.assign(new Error("no order"), { status: 500 });
      failures = 0;
    } catch (err) {
      if (err?.name === "AbortError") return;
      failures += 1;
      status.textContent = view.childElementCount
        ? "We're checking for updates on your order…"
        : requestFailed(err);
      const wait = err?.retryAfter ? err.retryAfter * 1000 : Math.min(POLL_MS * 2 ** failures, 30000);
      timer = setTimeout(poll, wait);
      return;
    }
    paint(order);
    ctx.complete();
    const states = MUST_SYNC.map((system) => order.downstream.find((d) => d.system === system)?.status);
    const settled = states.every((s) => s === "SYNCED" || s === "FAILED");
    view.dataset.sync = settled ? "done" : "pending";
    if (states.every((s) => s === "SYNCED")) {
      status.textContent = "Your order is confirmed and on its way to our workshop.";
    } else if (settled) {
      status.textContent = "Your order is confirmed. Part of it is taking longer than usual; our team has been alerted and will be in touch.";
    } else {
      status.textContent = "Your order is confirmed. We're passing it to our workshop…";
      timer = setTimeout(poll, POLL_MS);
    }
  }

  function paint(order) {
    const placed = new Date(order.createdAt);
    fill(view,
      h("h1", {}, "Thank you for your order"),
      h("p", { class: "order__meta" },
        `Order ${order.id}`, " · ",
        h("span", { class: "order__status", "data-testid": "order-status", "data-status": order.status }, statusText(order.status)),
        Number.isNaN(placed.getTime()) ? null : ` · placed ${placed.toLocaleString("en-US", { dateStyle: "medium", timeStyle: "short" })}`),
      h("ul", { class: "order__lines" }, order.lines.map((line) => h("li", {},
        h("span", {}, `${line.title}${line.quantity > 1 ? ` × ${line.quantity}` : ""}`,
          line.engravingText ? h("span", { class: "hint" }, ` — engraved “${line.engravingText}”`) : null),
        h("span", {}, money(line.lineTotal))))),
      h("dl", { class: "summary" },
        totalRow("Subtotal", money(order.subtotal)),
        totalRow("Tax", money(order.tax)),
        order.insurance ? totalRow("Insured delivery", money(order.insurance)) : null,
        totalRow("Total", h("span", { "data-testid": "order-total" }, money(order.total)))),
      h("p", { class: "hint" }, paymentText(order.payment), shipText(order.shipTo)),
      h("section", { class: "downstream", "aria-label": "Where your order is" },
        h("h2", {}, "Where your order is"),
        h("ul", {}, order.downstream.map(downstreamRow))));
  }

  await poll();
}

function totalRow(label, value) {
  return h("div", { class: "summary__row" }, h("dt", {}, label), h("dd", {}, value));
}

function statusText(status) {
  return status === "CONFIRMED" ? "Confirmed" : status.charAt(0) + status.slice(1).toLowerCase();
}

function paymentText(payment) {
  if (!payment) return "";
  const card = payment.cardBrand ? `${payment.cardBrand.charAt(0).toUpperCase()}${payment.cardBrand.slice(1)} ending in ${payment.last4}` : "Your card";
  return `${card} is authorized; it will be charged when your piece ships. `;
}

function shipText(shipTo) {
  return shipTo ? `Delivering to ${[shipTo.city, shipTo.provinceCode, shipTo.zip].filter(Boolean).join(", ")}.` : "";
}

function downstreamRow(d) {
  let text;
  if (d.status === "SYNCED") text = "Synced";
  else if (d.status === "FAILED") text = "Delayed — our team is on it";
  else if (d.attempts > 0 && d.lastError) text = `Retrying (attempt ${d.attempts + 1}; last try: ${d.lastError})`;
  else text = "In progress";
  return h("li", {
    class: "downstream__row", "data-testid": `downstream-${d.system.toLowerCase()}`, "data-status": d.status,
  },
  h("span", { class: "downstream__system" }, SYSTEMS[d.system] ?? d.system, " ", h("span", { class: "downstream__code" }, d.system)),
  h("span", { class: "downstream__status" }, text));
}

function notHere(root, ctx) {
  document.title = "Order — Bezel";
  fill(root, h("section", { class: "notice notice--page", role: "alert" },
    h("h1", {}, "We can't find this order on this device."),
    h("p", {}, "Orders can be viewed on the device they were placed from. Your confirmation email has every detail."),
    h("p", {}, h("a", { href: "/" }, "Back to the shop"))));
  ctx.complete();
}
