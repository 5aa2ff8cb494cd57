"""Purging an edge (Fastly, Cloudflare, Varnish) by surrogate key when an event changes what it holds."""

from connectors.edge.purger import LIST_KEY, EdgePurger, PurgeFailed, build_purger, keys_of, product_key, sku_key

__all__ = ["LIST_KEY", "EdgePurger", "PurgeFailed", "build_purger", "keys_of", "product_key", "sku_key"]
