"""Which document a request runs: a trusted one by id, a registered one by hash, or its own text.

    {"documentId": "<id>", "variables": ...}                     GraphQL-over-HTTP trusted documents
    {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "<id>"}}}     Apollo (APQ or PQ)
    {"query": "<text>"}                                          a document sent as text
    (the same as query parameters of a GET: ?documentId=...&variables=...)

An id is a SHA-256 written either way, `sha256:<hex>` (GraphQL-over-HTTP; GraphQL Codegen's manifest keys)
or `<hex>` (Apollo's manifest and persisted-query link), or any other string a manifest names: every
spelling is accepted wherever an id is, in `documentId` and in `extensions.persistedQuery` alike.

With `require_trusted`, only the manifest's operations run: a text, or an id not in the manifest, is
refused before anything parses it (PERSISTED_QUERY_NOT_IN_LIST), and a request with neither is
PERSISTED_QUERY_ID_REQUIRED. Without it, Apollo's automatic persisted queries work as Apollo Client
expects: an unknown hash alone is PERSISTED_QUERY_NOT_FOUND (HTTP 200, so the client sends the text),
a hash with its text registers the text once it has parsed and validated, and a hash that does not
match its text is a 400. The codes are Apollo's, so Apollo Client's persisted-query link handles them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError, OperationDefinitionNode, parse

from gateway.documents import manifest
from gateway.documents.apq import PersistedQueries, sha256
from gateway.errors import ConfigError, DocumentRefused
from schema.documents import Prepared
from schema.fastpath.planner import plan_ahead
from schema.limits import QueryLimits
from schema.refusals import REFUSED
from schema.root import BezelSchema

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
MAX_ID = 200


_TOO_MANY_TOKENS = "Syntax Error: Document contains more than"


def id_key(document_id: str) -> str:
    """One key for every spelling of an id: `sha256:<hex>` is `<hex>`; any other id is itself."""
    bare = document_id.removeprefix("sha256:")
    return bare if _SHA256.match(bare) else document_id


@dataclass(frozen=True)
class Resolved:
    query: str | None
    prepared: Prepared | None = None  # a trusted document, prepared at startup


def refused(status: int, code: str, message: str, reason: str) -> DocumentRefused:
    REFUSED.add(1, (("reason", reason),))
    return DocumentRefused(status, code, message)


class Documents:
    """The manifest's operations (prepared and planned at startup) and the APQ registry."""

    def __init__(self, schema: BezelSchema, *, manifest_paths: Sequence[str] = (), require_trusted: bool = False,
                 apq: PersistedQueries | None = None) -> None:
        """`manifest_paths`: [documents] manifest, and the demo storefront's when it is served."""
        self.schema = schema
        self.max_query_bytes = schema.documents.limits.max_query_bytes
        self.require_trusted = require_trusted
        self.apq = None if require_trusted else apq
        self.trusted: dict[str, Prepared] = {}
        self.operation_names: set[str] = set()
        for path in manifest_paths:
            if path:
                self._load(path)

    def _load(self, path: str) -> None:
        """Prepare and plan every operation; `ConfigError` naming every one that no longer validates."""
        problems: list[Problem] = []
        for op in manifest.load(path):
            prepared = self.schema.documents.prepare(op.body, trusted=True)
            found = problems_of(op, prepared, self.schema.documents.limits)
            if found or prepared is None:
                problems += found
                continue
            plan_ahead(self.schema._schema, prepared.document, self.schema.execution_context_class)
            self.trusted[id_key(op.id)] = prepared
            self.operation_names.update(d.name.value for d in prepared.document.definitions
                                        if isinstance(d, OperationDefinitionNode) and d.name is not None)
        if problems:
            raise ConfigError(f"documents.manifest: {len({p.operation for p in problems})} operation(s) in {path} "
                              f"cannot run here ({summary(problems)}): " + " | ".join(map(str, problems)))

    async def resolve(self, data: dict[str, Any], *, client: str = "unknown") -> Resolved:
        """The document this request runs, or `DocumentRefused` (before anything is parsed). `client`
        registers automatic persisted queries within its budget."""
        query = data.get("query")
        if isinstance(query, str) and len(query) > self.max_query_bytes // 4 and \
                len(query.encode()) > self.max_query_bytes:  # (a character is at most 4 bytes)
            raise refused(413, "PAYLOAD_TOO_LARGE", f"The query text is over {self.max_query_bytes} bytes; send "
                          "a smaller document (or its documentId).", "query_too_large")
        document_id = data.get("documentId")
        extensions = data.get("extensions")
        persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
        if document_id is not None:
            if not isinstance(document_id, str) or not 0 < len(document_id) <= MAX_ID:
                raise refused(400, "BAD_REQUEST", "documentId must be a string of 1 to 200 characters.", "bad_id")
            return await self._by_id(document_id, query)
        if persisted is not None:
            return await self._persisted(persisted, query, client)
        if self.require_trusted:
            if query:
                raise refused(403, "PERSISTED_QUERY_NOT_IN_LIST", "Only the storefront's registered operations "
                              "run here: send its documentId, not the document.", "not_in_list")
            raise refused(400, "PERSISTED_QUERY_ID_REQUIRED", "Send the registered operation's documentId.",
                          "id_required")
        return Resolved(query if isinstance(query, str) else None)

    async def _by_id(self, document_id: str, query: Any) -> Resolved:
        trusted = self.trusted.get(id_key(document_id))
        if query and (self.require_trusted or trusted is not None):
            raise refused(400, "BAD_REQUEST", "Send a documentId or a query, not both.", "both")
        if trusted is not None:
            return Resolved(trusted.text, trusted)
        if self.require_trusted or self.trusted:
            raise refused(404, "PERSISTED_QUERY_NOT_IN_LIST", "No registered operation has this documentId.",
                          "not_in_list")
        registered = await self.apq.get(id_key(document_id)) if self.apq else None
        if registered is None:
            raise refused(404, "PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound", "not_found")
        return Resolved(registered)

    async def _persisted(self, persisted: Any, query: Any, client: str) -> Resolved:
        digest = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
        if isinstance(digest, str):
            digest = id_key(digest)
        if not isinstance(persisted, dict) or persisted.get("version") != 1 or not isinstance(digest, str) \
                or not _SHA256.match(digest):
            raise refused(400, "BAD_REQUEST", "extensions.persistedQuery must be {version: 1, sha256Hash: "
                          "<64 hex digits, sha256: before them or not>}.", "bad_id")
        trusted = self.trusted.get(digest)
        if self.require_trusted:
            if query:
                raise refused(403, "PERSISTED_QUERY_NOT_IN_LIST", "Only the storefront's registered operations "
                              "run here: send the hash alone.", "not_in_list")
            if trusted is None:
                raise refused(404, "PERSISTED_QUERY_NOT_IN_LIST", "No registered operation has this hash.",
                              "not_in_list")
        if trusted is not None and not query:
            return Resolved(trusted.text, trusted)
        if self.apq is None:
            raise refused(400, "PERSISTED_QUERY_NOT_SUPPORTED", "PersistedQueryNotSupported", "not_supported")
        if not isinstance(query, str) or not query:
            registered = await self.apq.get(digest)
            if registered is None:  # a 200, as Apollo Client's link expects: it retries with the text
                raise refused(200, "PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound", "not_found")
            return Resolved(registered)
        if sha256(query) != digest:
            raise refused(400, "BAD_REQUEST", "provided sha does not match query", "hash_mismatch")
        prepared = self.schema.documents.parsed(query)
        if prepared is not None and not prepared.errors:  # only documents that can run are registered
            await self.apq.register(digest, query, client=client)
        return Resolved(query)


@dataclass(frozen=True)
class Problem:
    """Why one manifest operation cannot run: it does not parse, is over a limit, or the schema refuses it."""

    operation: str
    kind: str  # "syntax", "limit" or "schema"
    message: str
    limit: str | None = None  # the `[gateway]` key, for a limit
    value: object = None  # its value here

    def __str__(self) -> str:
        if self.kind == "limit":
            return f"{self.operation}: over the limit [gateway] {self.limit} = {self.value}: {self.message}"
        if self.kind == "syntax":
            return f"{self.operation}: does not parse: {self.message}"
        return f"{self.operation}: not valid against the schema: {self.message}"


def problems_of(op: manifest.ManifestOperation, prepared: Prepared | None, limits: QueryLimits) -> list[Problem]:
    """What stops a manifest's operation, each error told as a limit (`extensions.limit` names its key: raise it,
    or change the document) or as the schema's (the document asks what this schema does not have)."""
    label = op.name or op.id
    if prepared is None:
        try:
            parse(op.body, max_tokens=limits.max_tokens)
        except GraphQLError as exc:
            if exc.message.startswith(_TOO_MANY_TOKENS):  # graphql-core's parser stopping at `max_tokens`
                return [Problem(label, "limit", exc.message, "max_tokens", limits.max_tokens)]
            return [Problem(label, "syntax", exc.message)]
        return [Problem(label, "syntax", "does not parse")]
    found = []
    for error in prepared.errors:
        limit = (error.extensions or {}).get("limit")
        if isinstance(limit, str):
            found.append(Problem(label, "limit", error.message, limit, getattr(limits, limit, None)))
        else:
            found.append(Problem(label, "schema", error.message))
    return found


def summary(problems: Sequence[Problem]) -> str:
    """`2 over a limit, 1 not valid against the schema`: what a storefront's CI or a failed start says first."""
    kinds = {"limit": "over a limit", "schema": "not valid against the schema", "syntax": "not parsing"}
    counts = {kind: len({p.operation for p in problems if p.kind == kind}) for kind in kinds}
    return ", ".join(f"{n} {kinds[kind]}" for kind, n in counts.items() if n)
