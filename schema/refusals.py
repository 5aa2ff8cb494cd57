"""Requests refused before they ran, counted by reason: one counter for every refusal on the way in.

The gateway's edge refuses for the body (size, slowness), rate limits and trusted documents; the schema
for a document's shape and cost. Both count here, so `bezel_requests_refused_total` answers "what are
we turning away, and why" in one series.
"""

from __future__ import annotations

from connectors.telemetry import Tally, series_of

# Every reason a refusal is counted with, each reported at 0 from start-up (tests/schema/test_refusals.py
# finds every reason the code counts and keeps this list complete).
REASONS = (
    # the edge: headers and body (gateway.edge.protocol, .body), client budgets (gateway.edge.admission)
    "header_timeout", "header_too_large", "body_timeout", "body_too_large",
    "rate_limit_pages", "rate_limit_checkout", "rate_limit_order_lookups", "order_by_get",
    # which document runs (gateway.documents.trusted, .apq)
    "query_too_large", "bad_id", "both", "not_in_list", "id_required", "not_found", "not_supported", "hash_mismatch",
    "apq_too_large", "rate_limit_apq_registrations",
    # the document itself (schema.documents)
    "shape", "cost",
)
REFUSED = Tally(
    "bezel.requests.refused",
    description="Requests refused before they ran, by reason: shape (too many fields), cost (too many vendor "
                "calls), not_in_list, id_required, not_found, hash_mismatch (trusted documents), ...",
    series=series_of(reason=REASONS))
