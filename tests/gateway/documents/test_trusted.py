"""Which document a request runs (`gateway.documents.trusted.Documents`): only the manifest's with
`require_trusted`, else Apollo's automatic persisted queries as Apollo Client expects; refused before parsing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gateway.documents import Documents, PersistedQueries
from gateway.documents.apq import sha256
from gateway.errors import ConfigError, DocumentRefused
from schema import build_schema
from schema.root import BezelSchema

PAGE = "query Page { __typename }"
PAGE_ID = sha256(PAGE)


@pytest.fixture(scope="module")
def schema() -> BezelSchema:
    return build_schema()


@pytest.fixture
def manifest(tmp_path: Path) -> str:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({PAGE_ID: PAGE, "short-id": "query Short { __typename }"}))
    return str(path)


def apq() -> PersistedQueries:
    return PersistedQueries(ttl_s=60, local_max_entries=10, max_bytes=10_000, max_entries=10)


def persisted(digest: str, **extra: Any) -> dict[str, Any]:
    return {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}, **extra}


async def refusal(documents: Documents, data: dict[str, Any]) -> tuple[int, str]:
    with pytest.raises(DocumentRefused) as refused:
        await documents.resolve(data)
    return refused.value.status, refused.value.code


async def test_with_require_trusted_the_manifest_s_operations_run_by_any_spelling_of_their_id(
    schema: BezelSchema, manifest: str,
) -> None:
    documents = Documents(schema, manifest_paths=[manifest], require_trusted=True, apq=apq())
    for data in ({"documentId": PAGE_ID}, {"documentId": f"sha256:{PAGE_ID}"}, persisted(PAGE_ID)):
        resolved = await documents.resolve(data)
        assert resolved.query == PAGE
        assert resolved.prepared is not None
        assert not resolved.prepared.errors
    assert (await documents.resolve({"documentId": "short-id"})).query == "query Short { __typename }"
    assert documents.operation_names == {"Page", "Short"}


@pytest.mark.parametrize(("data", "answer"), [
    ({"query": PAGE}, (403, "PERSISTED_QUERY_NOT_IN_LIST")),  # even the very text of a trusted operation
    ({}, (400, "PERSISTED_QUERY_ID_REQUIRED")),
    ({"documentId": "unknown"}, (404, "PERSISTED_QUERY_NOT_IN_LIST")),
    ({"documentId": PAGE_ID, "query": PAGE}, (400, "BAD_REQUEST")),
    (persisted("0" * 64), (404, "PERSISTED_QUERY_NOT_IN_LIST")),
    (persisted(PAGE_ID, query=PAGE), (403, "PERSISTED_QUERY_NOT_IN_LIST")),
])
async def test_with_require_trusted_anything_else_is_refused(schema: BezelSchema, manifest: str,
                                                            data: dict[str, Any], answer: tuple[int, str]) -> None:
    documents = Documents(schema, manifest_paths=[manifest], require_trusted=True, apq=apq())
    assert documents.apq is None  # nothing may register itself into a trusted-only gateway
    assert await refusal(documents, data) == answer


async def test_apq_an_unknown_hash_is_a_200_not_found_then_its_text_registers_it(schema: BezelSchema) -> None:
    documents = Documents(schema, apq=apq())
    text = "query Fresh { __typename }"
    assert await refusal(documents, persisted(sha256(text))) == (200, "PERSISTED_QUERY_NOT_FOUND")
    assert (await documents.resolve(persisted(sha256(text), query=text))).query == text
    assert (await documents.resolve(persisted(sha256(text)))).query == text
    assert (await documents.resolve({"documentId": f"sha256:{sha256(text)}"})).query == text


async def test_apq_a_hash_that_is_not_its_text_s_is_a_400_and_registers_nothing(schema: BezelSchema) -> None:
    documents = Documents(schema, apq=apq())
    text, other = "query A { __typename }", "query B { __typename }"
    assert await refusal(documents, persisted(sha256(other), query=text)) == (400, "BAD_REQUEST")
    assert await refusal(documents, persisted(sha256(other))) == (200, "PERSISTED_QUERY_NOT_FOUND")


@pytest.mark.parametrize("text", ["query Broken { nope }", "query {", "{ __typename } { __typename }"])
async def test_apq_a_document_that_cannot_run_runs_as_sent_but_is_never_registered(schema: BezelSchema,
                                                                                   text: str) -> None:
    documents = Documents(schema, apq=apq())
    assert (await documents.resolve(persisted(sha256(text), query=text))).query == text  # its errors are the view's
    assert await refusal(documents, persisted(sha256(text))) == (200, "PERSISTED_QUERY_NOT_FOUND")


@pytest.mark.parametrize("shape", [
    {"version": 2, "sha256Hash": PAGE_ID}, {"version": 1, "sha256Hash": PAGE_ID.upper()},
    {"version": 1, "sha256Hash": PAGE_ID[:-1]}, {"version": 1}, {"version": 1, "sha256Hash": 5}, "x", [PAGE_ID]])
async def test_a_malformed_persisted_query_is_a_400(schema: BezelSchema, shape: Any) -> None:
    assert await refusal(Documents(schema, apq=apq()), {"extensions": {"persistedQuery": shape}}) == \
        (400, "BAD_REQUEST")


@pytest.mark.parametrize("document_id", ["", "x" * 201, 7, ["a"], {"id": "a"}])
async def test_a_document_id_must_be_a_string_of_1_to_200_characters(schema: BezelSchema, document_id: Any) -> None:
    assert await refusal(Documents(schema, apq=apq()), {"documentId": document_id}) == (400, "BAD_REQUEST")


async def test_without_apq_a_persisted_query_is_not_supported_and_a_text_runs(schema: BezelSchema) -> None:
    documents = Documents(schema)
    assert await refusal(documents, persisted(PAGE_ID)) == (400, "PERSISTED_QUERY_NOT_SUPPORTED")
    assert await refusal(documents, {"documentId": PAGE_ID}) == (404, "PERSISTED_QUERY_NOT_FOUND")
    resolved = await documents.resolve({"query": PAGE})
    assert (resolved.query, resolved.prepared) == (PAGE, None)
    assert (await documents.resolve({"query": 5})).query is None  # not a text: the view says why


async def test_a_query_text_over_max_query_bytes_is_413_counting_bytes(schema: BezelSchema) -> None:
    limit = schema.documents.limits.max_query_bytes
    documents = Documents(schema, apq=apq())
    wide = "{ __typename } #" + "é" * (limit // 2)  # fewer characters than the limit, more bytes
    assert len(wide) < limit < len(wide.encode())
    assert await refusal(documents, {"query": wide}) == (413, "PAYLOAD_TOO_LARGE")
    assert await refusal(documents, persisted(sha256(wide), query=wide)) == (413, "PAYLOAD_TOO_LARGE")
    fits = "{ __typename } #" + "x" * (limit - 16)
    assert (await documents.resolve({"query": fits})).query == fits


async def test_a_manifest_operation_that_no_longer_validates_stops_the_process_naming_each(
    schema: BezelSchema, tmp_path: Path,
) -> None:
    path = tmp_path / "stale.json"
    path.write_text(json.dumps({"a": "query Gone { removedField }", "b": "query {", "c": PAGE}))
    with pytest.raises(ConfigError, match="2 operation") as stopped:
        Documents(schema, manifest_paths=[str(path)])
    assert "a: not valid against the schema: Cannot query field 'removedField'" in str(stopped.value)
    assert "b: does not parse" in str(stopped.value)
    assert "(1 not valid against the schema, 1 not parsing)" in str(stopped.value)
    copies = tmp_path / "copies.json"
    copies.write_text(json.dumps({"d": "query D { " + " ".join(["... on Query { __typename }"] * 17) + " }"}))
    with pytest.raises(ConfigError, match=r"1 operation\(s\) in .* cannot run here \(1 over a limit\): d: over the "
                                          r"limit \[gateway\] max_copies = 16"):
        Documents(schema, manifest_paths=[str(copies)])


CODEGEN_MANIFEST = {f"sha256:{PAGE_ID}": PAGE}  # GraphQL Codegen's client preset: its keys carry the prefix


@pytest.mark.parametrize("require_trusted", [True, False])
@pytest.mark.parametrize("manifest_ids", [CODEGEN_MANIFEST, {PAGE_ID: PAGE}], ids=["codegen", "apollo"])
async def test_every_spelling_of_an_id_finds_the_operation_whichever_spelling_its_manifest_uses(
    schema: BezelSchema, tmp_path: Path, manifest_ids: dict[str, str], require_trusted: bool,
) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest_ids))
    documents = Documents(schema, manifest_paths=[str(path)], require_trusted=require_trusted, apq=apq())
    for data in ({"documentId": PAGE_ID}, {"documentId": f"sha256:{PAGE_ID}"}, persisted(PAGE_ID),
                 persisted(f"sha256:{PAGE_ID}")):
        resolved = await documents.resolve(data)
        assert (resolved.query, resolved.prepared is not None) == (PAGE, True)
    assert await refusal(documents, {"documentId": f"sha256:{'0' * 64}"}) == (404, "PERSISTED_QUERY_NOT_IN_LIST")
    assert await refusal(documents, {"documentId": f"sha1:{PAGE_ID}"}) == (404, "PERSISTED_QUERY_NOT_IN_LIST")
    assert await refusal(documents, persisted(f"sha1:{PAGE_ID}")) == (400, "BAD_REQUEST")
