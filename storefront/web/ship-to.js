// "Ship to": the state and ZIP that tax and insurance estimates are for (product page, bag).

import { h } from "./dom.js";
import { US_STATES, isZip, saveShipTo } from "./address.js";

/** shipToForm(shipTo, onChange) -> element; onChange({countryCode, provinceCode, zip}) on a new, valid address. */
export function shipToForm(initial, onChange) {
  let applied = `${initial.provinceCode} ${initial.zip}`;
  const province = h("select", { id: "ship-province", name: "provinceCode", "data-testid": "ship-province", autocomplete: "shipping address-level1" },
    US_STATES.map(([code, name]) => h("option", { value: code, selected: code === initial.provinceCode }, name)));
  const zip = h("input", {
    id: "ship-zip", name: "zip", value: initial.zip, inputmode: "numeric", autocomplete: "shipping postal-code",
    size: 6, maxlength: 10, "data-testid": "ship-zip", "aria-describedby": "ship-zip-error",
  });
  const error = h("span", { id: "ship-zip-error", class: "field-error", role: "alert" });
  const form = h("form", { class: "ship-to", "aria-label": "Ship to" },
    h("div", { class: "field" }, h("label", { for: "ship-province" }, "Ship to state"), province),
    h("div", { class: "field" }, h("label", { for: "ship-zip" }, "Ship to ZIP"), zip),
    h("button", { type: "submit", class: "button button--small" }, "Update"),
    error);

  function apply(event) {
    event?.preventDefault();
    const next = { countryCode: "US", provinceCode: province.value, zip: zip.value.trim() };
    if (!isZip(next.zip)) {
      error.textContent = "Please enter a 5-digit ZIP code.";
      zip.setAttribute("aria-invalid", "true");
      return;
    }
    error.textContent = "";
    zip.setAttribute("aria-invalid", "false");
    const key = `${next.provinceCode} ${next.zip}`;
    if (key === applied) return;
    applied = key;
    saveShipTo(next);
    onChange(next);
  }
  form.addEventListener("submit", apply);
  zip.addEventListener("change", apply);
  province.addEventListener("change", apply);
  return form;
}
