// The option pickers (Metal, Center Stone, Ring Size, ...): one labelled <select> per option.
// Each value says when, with the other choices as they are, it is sold out or not made.

import { h, slug } from "../dom.js";

/** The variant whose selectedOptions are exactly `selection` ({name: value}), or null. */
export function findVariant(variants, selection) {
  return variants.find((v) => v.selectedOptions.every((o) => selection[o.name] === o.value)) ?? null;
}

/** {name: value} of a variant. */
export function selectionOf(variant) {
  return Object.fromEntries(variant.selectedOptions.map((o) => [o.name, o.value]));
}

/**
 * pickers(product, selection, onChange) -> {el, annotate(selection), select(selection)}
 * onChange(selection) runs whenever the shopper picks another value.
 */
export function pickers(product, selection, onChange) {
  const selects = new Map();
  const fields = product.options.map((option) => {
    const id = `option-${slug(option.name)}`;
    const select = h("select", { id, name: option.name, "data-testid": id, "data-option-name": option.name },
      option.values.map((value) => h("option", { value, selected: selection[option.name] === value }, value)));
    select.addEventListener("change", () => {
      const next = Object.fromEntries([...selects].map(([name, s]) => [name, s.value]));
      onChange(next);
    });
    selects.set(option.name, select);
    return h("div", { class: "field field--option" }, h("label", { for: id }, option.name), select);
  });
  const el = h("div", { class: "options" }, fields);

  /** Marks values that are sold out, or not made, with the other current choices. */
  function annotate(current) {
    for (const option of product.options) {
      for (const opt of selects.get(option.name).options) {
        const variant = findVariant(product.variants, { ...current, [option.name]: opt.value });
        const status = variant?.availability?.status;
        let note = "";
        if (!variant) note = " — not made in this combination";
        else if (status === "OUT_OF_STOCK") note = " — sold out";
        opt.textContent = opt.value + note;
      }
    }
  }
  /** Shows `current` as chosen (when the page, not the shopper, picks another variant). */
  function select(current) {
    for (const [name, s] of selects) s.value = current[name];
    annotate(current);
  }

  annotate(selection);
  return { el, annotate, select };
}
