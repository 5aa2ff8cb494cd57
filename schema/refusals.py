"""Requests refused before they ran, counted by reason: one counter for every refusal on the way in.

The gateway's edge refuses for the body (size, slowness), rate limits and trusted documents; the schema
for a document's shape and cost. Both count here, so `bezel_requests_refused_total` answers "what are
we turning away, and why" in one series.
"""

from __future__ import annotations

from connectors.telemetry import Tally

REFUSED = Tally(
    "bezel.requests.refused",
    description="Requests refused before they ran, by reason: shape (too many fields), cost (too many vendor "
                "calls), not_in_list, id_required, not_found, hash_mismatch (trusted documents), ...")
