"""Incremental items' `path`s completed for deferSpec=20220824 clients (`gateway.edge.part_paths`)."""

from __future__ import annotations

from typing import Any

from gateway.edge.part_paths import PartPaths


def test_a_fragment_deferred_below_its_announcement_gets_its_whole_path() -> None:
    paths = PartPaths()
    paths.initial({"data": {"product": {"variants": [{"sku": "A"}]}}, "pending": [
        {"id": "0", "path": ["product"], "label": "stock"}]})
    part: dict[str, Any] = {"incremental": [
        {"id": "0", "path": ["product"], "subPath": ["variants", 0], "data": {"availability": {"status": "IN"}}},
        {"id": "0", "path": ["product"], "data": {"title": "T"}}]}
    paths.subsequent(part)
    assert [item["path"] for item in part["incremental"]] == [["product", "variants", 0], ["product"]]
    assert part["incremental"][0]["subPath"] == ["variants", 0]  # kept, for the newer format's clients


def test_streamed_items_carry_the_index_of_their_first_item_counting_from_what_came_before() -> None:
    paths = PartPaths()
    paths.initial({"data": {"product": {"variants": [{"sku": "A"}, {"sku": "B"}]}}, "pending": [
        {"id": "1", "path": ["product", "variants"]}]})
    first: dict[str, Any] = {"incremental": [{"id": "1", "path": ["product", "variants"], "items": [{"sku": "C"}]}]}
    second: dict[str, Any] = {"incremental": [{"id": "1", "path": ["product", "variants"],
                                               "items": [{"sku": "D"}, {"sku": "E"}]}]}
    paths.subsequent(first)
    paths.subsequent(second)
    assert first["incremental"][0]["path"] == ["product", "variants", 2]
    assert second["incremental"][0]["path"] == ["product", "variants", 3]


def test_a_stream_announced_inside_a_deferred_part_starts_after_the_items_that_part_held() -> None:
    paths = PartPaths()
    paths.initial({"data": {"product": {}}, "pending": [{"id": "0", "path": ["product"]}]})
    paths.subsequent({"incremental": [{"id": "0", "path": ["product"], "data": {"variants": [{"sku": "A"}]}}],
                      "pending": [{"id": "1", "path": ["product", "variants"]}]})
    later: dict[str, Any] = {"incremental": [{"id": "1", "path": ["product", "variants"], "items": [{"sku": "B"}]}]}
    paths.subsequent(later)
    assert later["incremental"][0]["path"] == ["product", "variants", 1]


def test_what_it_cannot_place_starts_at_zero_and_nothing_breaks() -> None:
    paths = PartPaths()
    paths.initial({"data": None, "pending": [{"id": "1", "path": ["gone", 3]}]})
    part: dict[str, Any] = {"incremental": [{"id": "1", "path": ["gone", 3], "items": [1]}]}
    paths.subsequent(part)
    assert part["incremental"][0]["path"] == ["gone", 3, 0]
    paths.subsequent({"hasNext": False})
