// The engraving field of an engravable piece, with a live preview: the shopper's text is rendered
// by the engraving vendor ~300 ms after they stop typing (the EngravingPreview operation), within
// the limits the vendor reported (length, characters). The page's first ProductShopper request
// previews the text the page was opened with (`initialText`, from ?engraving=), or else a sample.

import { request } from "../api.js";
import { fill, h } from "../dom.js";
import { ago } from "../format.js";
import { UNAVAILABLE, errorWithCode } from "../messages.js";

const DEBOUNCE_MS = 300;
export const SAMPLE_TEXT = "Forever Yours"; // what the page previews before the shopper types

/**
 * engraving({handle, signal, onValidity, initialText}) -> {el, paintInitial(part), setVariant(id), text(), valid()}
 * `onValidity(valid)` runs when the text becomes acceptable or not (the page gates "Add to bag").
 * `initialText` prefills the field; the page's first ProductShopper request previews it instead of SAMPLE_TEXT.
 */
export function engraving({ handle, signal, onValidity, initialText = "" }) {
  const firstText = initialText.trim(); // what the page's first answer previews ("": SAMPLE_TEXT)
  let limits = null;
  let pattern = null;
  let variantId = null;
  let timer = null;
  let inFlight = null;
  let seq = 0;
  let valid = true;
  let samplePreview = null; // a preview of SAMPLE_TEXT (the first part's, unless the page opened with a text)

  const input = h("input", {
    id: "engraving-text", name: "engraving", type: "text", autocomplete: "off", spellcheck: "false",
    placeholder: SAMPLE_TEXT, "data-testid": "engraving-text", "aria-describedby": "engraving-limits engraving-error",
    value: firstText || null,
  });
  const limitsNote = h("p", { id: "engraving-limits", class: "hint" });
  const error = h("p", { id: "engraving-error", class: "field-error", role: "alert" });
  const figure = h("figure", { class: "engraving-preview", "aria-live": "polite" });
  const el = h("fieldset", { class: "engraving" },
    h("legend", {}, "Engraving"),
    h("div", { class: "field" }, h("label", { for: "engraving-text" }, "Your words (optional, complimentary)"), input),
    limitsNote, error, figure);

  input.addEventListener("input", onInput);
  signal.addEventListener("abort", () => clearTimeout(timer));

  function setLimits(next) {
    if (!next) return;
    limits = next;
    try {
      pattern = new RegExp(next.allowedPattern, "u");
    } catch {
      pattern = null;
    }
    input.maxLength = next.maxLength;
    limitsNote.textContent = `Up to ${next.maxLength} characters: ${next.allowedCharacters}`;
  }

  function check(text) {
    if (limits && [...text].length > limits.maxLength) return `Engravings can be up to ${limits.maxLength} characters.`;
    if (pattern && !pattern.test(text)) return `Engravings can use only these characters: ${limits.allowedCharacters}`;
    return "";
  }

  function setValid(ok, message = "") {
    error.textContent = message;
    input.setAttribute("aria-invalid", ok ? "false" : "true");
    if (ok !== valid) {
      valid = ok;
      onValidity(ok);
    }
  }

  function showPreview(preview, text) {
    figure.dataset.state = "ready";
    fill(figure,
      h("img", {
        src: preview.imageUrl, "data-testid": "engraving-preview", width: 900, height: 360,
        alt: `Preview of the engraving “${text}”`,
      }),
      h("figcaption", {},
        input.value.trim() ? "Your engraving, as we will make it." : "A sample engraving. Type your own words above.",
        preview.freshness?.source === "STALE" ? ` (preview from ${ago(preview.freshness.ageMs)})` : ""));
  }

  function showUnavailable() {
    figure.dataset.state = "unavailable";
    fill(figure, h("p", { class: "notice", "data-testid": "engraving-unavailable" }, UNAVAILABLE.engraving));
  }

  function showPending() {
    figure.dataset.state = "pending";
    figure.setAttribute("aria-busy", "true");
    fill(figure, h("p", { class: "hint" }, "Preparing the engraving preview…"));
  }

  function onInput() {
    clearTimeout(timer);
    const text = input.value;
    const problem = check(text);
    setValid(!problem, problem);
    if (problem) return; // refused in the UI: nothing is sent
    timer = setTimeout(() => renderText(text.trim()), DEBOUNCE_MS);
  }

  async function renderText(text) {
    const mine = ++seq;
    inFlight?.abort();
    if (!text && (samplePreview || !firstText)) {
      if (samplePreview) showPreview(samplePreview, SAMPLE_TEXT);
      return;
    }
    // An empty field on a page opened with a text: its sample was never rendered, so ask for it.
    const wantedText = text || SAMPLE_TEXT;
    inFlight = new AbortController();
    const abortAll = () => inFlight?.abort();
    signal.addEventListener("abort", abortAll, { once: true });
    figure.setAttribute("aria-busy", "true");
    try {
      const wanted = { text: wantedText, ...(variantId ? { variantId } : {}) };
      const result = await request("EngravingPreview", { handle, input: wanted }, { signal: inFlight.signal });
      if (mine !== seq) return;
      const preview = result.data?.product?.engravingPreview;
      if (preview) {
        setLimits(preview.limits);
        if (!text) samplePreview = preview;
        showPreview(preview, wantedText);
        return;
      }
      const refused = errorWithCode(result.errors, "BAD_USER_INPUT");
      if (refused) {
        setValid(false, refused.message); // Bezel words these for shoppers ("Enter the text to engrave.")
        return;
      }
      showUnavailable();
    } catch (err) {
      if (err?.name === "AbortError") return;
      if (mine === seq) showUnavailable();
    } finally {
      signal.removeEventListener("abort", abortAll);
      if (mine === seq) figure.setAttribute("aria-busy", "false");
    }
  }

  return {
    el,
    /** The product page's first answer: {value, errors, pending} of engravingPreview(initialText or SAMPLE_TEXT). */
    paintInitial(part) {
      if (part.pending) return showPending();
      figure.setAttribute("aria-busy", "false");
      const untouched = input.value.trim() === firstText; // else the shopper's own text is on its way
      if (part.value) {
        setLimits(part.value.limits);
        if (!firstText) samplePreview = part.value;
        if (untouched) showPreview(part.value, firstText || SAMPLE_TEXT);
        return;
      }
      if (!untouched) return;
      const refused = firstText ? errorWithCode(part.errors, "BAD_USER_INPUT") : null;
      if (refused) {
        setValid(false, refused.message); // the text the page was opened with can't be engraved
        figure.dataset.state = "invalid";
        fill(figure);
      } else {
        showUnavailable();
      }
    },
    /** The shopper picked another variant: render their text on it. */
    setVariant(id) {
      if (id === variantId) return;
      variantId = id;
      if (input.value.trim() && valid) {
        clearTimeout(timer);
        timer = setTimeout(() => renderText(input.value.trim()), DEBOUNCE_MS);
      }
    },
    text: () => input.value.trim(),
    valid: () => valid,
  };
}
