// The order page (/orders/<id>): the order, read with the token kept on this device (POST only),
// and where it is on its way. It follows the order live (OrderUpdated, live.js: one subscription, no
// polling) until the order system (ERP), the workshop (WMS) and the customer records (CRM) all have
// it; body[data-live] says whether it is following, `.order[data-sync]` becomes "done" once they do.

import { follow } from "../live.js";
import { fill, h } from "../dom.js";
import { money } from "../format.js";
import { requestFailed } from "../messages.js";
import * as orders from "../orders.js";

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
  let gone = false; // the gateway knows no such order for this token

  function onData(data) {
    const order = data?.orderUpdated;
    if (!order) {
      gone = true;
      return notHere(root, ctx);
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
    }
  }

  function onState(state) {
    if (gone || view.dataset.sync === "done") return;
    if (state === "retrying") {
      status.textContent = view.childElementCount
        ? "We're checking for updates on your order…"
        : requestFailed({ status: 0 });
    } else if (state === "off" && !view.childElementCount) {
      status.textContent = requestFailed({ status: 0 });
      ctx.complete();
    }
  }

  // The stream ends by itself once every system has the order (or one failed), or at once for no order.
  follow("OrderUpdated", { id, token }, {
    ctx, onData, onState,
    finished: (data) => !data?.orderUpdated || settled(data.orderUpdated.downstream),
  });
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
}

/** As the gateway ends the stream: every system has the order, or one gave up. */
function settled(downstream) {
  return downstream.some((d) => d.status === "FAILED") || downstream.every((d) => d.status === "SYNCED");
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
