// Client-side routing: the gateway answers every page route with index.html; this picks the page.

const routes = [
  { pattern: /^\/$/, page: () => import("./pages/list.js") },
  { pattern: /^\/products\/([^/]+)\/?$/, keys: ["handle"], page: () => import("./pages/product.js") },
  { pattern: /^\/bag\/?$/, page: () => import("./pages/bag.js") },
  { pattern: /^\/checkout\/?$/, page: () => import("./pages/checkout.js") },
  { pattern: /^\/orders\/([^/]+)\/?$/, keys: ["id"], page: () => import("./pages/order.js") },
];
const notFound = () => import("./pages/not-found.js");

let root = null;
let current = null; // {controller, cleanups}

/** Starts routing into `outlet`: renders the current URL and follows links and history. */
export function start(outlet) {
  root = outlet;
  document.addEventListener("click", onClick);
  window.addEventListener("popstate", () => { render(); });
  return render();
}

/** Goes to a page of the shop: `navigate("/bag")`; `replace` keeps history as it is. */
export function navigate(url, { replace = false } = {}) {
  const target = new URL(url, location.href);
  if (replace) history.replaceState(null, "", target);
  else history.pushState(null, "", target);
  return render({ scroll: true });
}

async function render({ scroll = false } = {}) {
  if (current) {
    current.controller.abort();
    for (const fn of current.cleanups) fn();
  }
  const controller = new AbortController();
  const cleanups = [];
  current = { controller, cleanups };
  document.body.dataset.pageState = "loading";

  const path = location.pathname;
  const route = routes.find((r) => r.pattern.test(path));
  const params = {};
  if (route) {
    const match = route.pattern.exec(path);
    (route.keys ?? []).forEach((key, i) => { params[key] = decodeURIComponent(match[i + 1]); });
  }
  const ctx = {
    params,
    query: new URLSearchParams(location.search),
    signal: controller.signal,
    onCleanup: (fn) => cleanups.push(fn),
    navigate,
    /** The page has everything it needs on screen (tests wait for this). */
    complete: () => { if (!controller.signal.aborted) document.body.dataset.pageState = "complete"; },
  };
  const outlet = document.createElement("div");
  outlet.className = "page";
  try {
    const module = await (route ? route.page() : notFound());
    if (controller.signal.aborted) return;
    root.replaceChildren(outlet);
    if (scroll) window.scrollTo(0, 0);
    await module.render(outlet, ctx);
  } catch (err) {
    if (err?.name === "AbortError" || controller.signal.aborted) return;
    console.error(err);
    const { pageFailed } = await import("./messages.js");
    root.replaceChildren(outlet);
    outlet.replaceChildren(pageFailed(err));
    ctx.complete();
  }
}

function onClick(event) {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const link = event.target.closest?.("a[href]");
  if (!link || link.target || link.hasAttribute("download")) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith("/storefront/") || url.pathname === "/graphql") return;
  event.preventDefault();
  if (url.href === location.href) return;
  navigate(url.href);
}
