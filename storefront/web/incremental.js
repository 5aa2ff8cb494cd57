// One GraphQL result built up from an incremental (@defer) answer, part by part.
//
// Speaks both wire formats a server may use:
// - the current one (graphql-js 17 / graphql-core 3.3, what strawberry sends): the first part
//   lists `pending: [{id, path, label}]`; later parts carry `incremental: [{id, data, subPath?,
//   errors?}]` and `completed: [{id, errors?}]`;
// - the 2022 one (`deferSpec=20220824`): `incremental: [{data, path, label, errors?}]`, no ids.
// A plain (non-incremental) result is just a first part with nothing pending.

export class IncrementalResult {
  constructor() {
    this.data = null;
    this.errors = [];
    this.extensions = {};
    this.hasNext = true;
    this.pending = new Map(); // id -> {path, label}
    this.started = false;
  }

  #legacy = false; // the 2022 format: nothing announced, a label is pending until it arrives
  #arrived = new Set();

  /** Applies one part; returns the labels of deferred fragments that arrived or completed in it. */
  apply(part) {
    const touched = new Set();
    if (!part || typeof part !== "object") return touched;
    if (!this.started) {
      this.started = true;
      this.data = part.data ?? null;
      this.hasNext = part.hasNext === true; // a plain result has no hasNext: it is whole
      this.#legacy = this.hasNext && !Array.isArray(part.pending);
    }
    this.#addErrors(part.errors);
    this.#addExtensions(part.extensions);
    for (const p of part.pending ?? []) this.pending.set(String(p.id), { path: p.path ?? [], label: p.label });
    for (const item of part.incremental ?? []) {
      const known = item.id != null ? this.pending.get(String(item.id)) : undefined;
      const path = [...(known?.path ?? item.path ?? []), ...(item.subPath ?? [])];
      if (item.data) this.#mergeAt(path, item.data);
      if (Array.isArray(item.items)) this.#appendAt(path, item.items); // @stream, for completeness
      this.#addErrors(item.errors);
      this.#addExtensions(item.extensions);
      const label = item.label ?? known?.label;
      if (label) {
        touched.add(label);
        this.#arrived.add(label);
      }
    }
    for (const done of part.completed ?? []) {
      const known = this.pending.get(String(done.id));
      this.pending.delete(String(done.id));
      this.#addErrors(done.errors);
      if (known?.label) touched.add(known.label);
    }
    if ("hasNext" in part) this.hasNext = part.hasNext === true;
    if (!this.hasNext) {
      for (const { label } of this.pending.values()) if (label) touched.add(label);
      this.pending.clear();
    }
    return touched;
  }

  /** True while a deferred fragment with this label has not completed. */
  isPending(label) {
    if (!this.hasNext) return false;
    if (this.#legacy) return !this.#arrived.has(label);
    for (const p of this.pending.values()) if (p.label === label) return true;
    return false;
  }

  /** Errors whose path starts with `prefix` (e.g. ["product", "taxEstimate"]). */
  errorsAt(prefix) {
    return this.errors.filter((e) => Array.isArray(e.path) && prefix.every((k, i) => e.path[i] === k));
  }

  /** Ends the result early (the connection broke): nothing more will come. */
  abandon() {
    const labels = new Set([...this.pending.values()].map((p) => p.label).filter(Boolean));
    this.pending.clear();
    this.hasNext = false;
    return labels;
  }

  #addErrors(errors) {
    if (Array.isArray(errors)) this.errors.push(...errors);
  }

  #addExtensions(extensions) {
    if (!extensions || typeof extensions !== "object") return;
    for (const [key, value] of Object.entries(extensions)) {
      // Later parts report more (the last part's `vendors` is the complete report).
      this.extensions[key] = value && typeof value === "object" && !Array.isArray(value)
        ? { ...(this.extensions[key] ?? {}), ...value }
        : value;
    }
  }

  #target(path) {
    let node = this.data;
    for (const key of path) {
      if (node == null) return null;
      node = node[key];
    }
    return node;
  }

  #mergeAt(path, data) {
    if (this.data === null) this.data = {};
    const target = this.#target(path);
    if (target && typeof target === "object") deepMerge(target, data);
  }

  #appendAt(path, items) {
    const target = this.#target(path);
    if (Array.isArray(target)) target.push(...items);
  }
}

export function deepMerge(target, source) {
  for (const [key, value] of Object.entries(source)) {
    const current = target[key];
    if (value && typeof value === "object" && current && typeof current === "object") {
      if (Array.isArray(value) && Array.isArray(current)) {
        value.forEach((v, i) => {
          if (v && typeof v === "object" && current[i] && typeof current[i] === "object") deepMerge(current[i], v);
          else current[i] = v;
        });
      } else {
        deepMerge(current, value);
      }
    } else {
      target[key] = value;
    }
  }
  return target;
}
