// Any other address.

import { fill, h } from "../dom.js";

export async function render(root, ctx) {
  document.title = "Not found — Bezel";
  fill(root, h("section", { class: "notice notice--page" },
    h("h1", {}, "This page isn't here"),
    h("p", {}, "The piece or page you were looking for may have moved."),
    h("p", {}, h("a", { href: "/" }, "Back to the shop"))));
  ctx.complete();
}
