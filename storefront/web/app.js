// The storefront's entry point: loads the operation manifest, keeps the bag count in the header,
// and starts the router.

import { loadManifest } from "./api.js";
import * as bag from "./bag.js";
import { start } from "./router.js";

loadManifest().catch(() => {
  // Each page asks again and explains the failure in its own words.
});

const bagCount = document.querySelector("[data-testid=bag-count]");
function showBagCount() {
  const n = bag.count();
  bagCount.textContent = n > 0 ? `(${n})` : "";
}
bag.onChange(showBagCount);
showBagCount();

start(document.getElementById("main"));
