"""Trusted documents and automatic persisted queries: which operation a request runs (`trusted`),
the manifests storefront builds emit (`manifest`), and the APQ registry (`apq`)."""

from gateway.documents.apq import PersistedQueries
from gateway.documents.trusted import Documents, Resolved

__all__ = ["Documents", "PersistedQueries", "Resolved"]
