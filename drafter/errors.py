"""One error family. Every message says what went wrong and how to fix it."""

from __future__ import annotations


class DrafterError(Exception):
    """Base of all errors IMR Drafter reports to a user."""

    exit_code = 2


class ConfigError(DrafterError):
    """A setting is missing or wrong."""


class CorpusError(DrafterError):
    """A guideline topic file is malformed."""


class IngestError(DrafterError):
    """A document could not be ingested."""


class QueryError(DrafterError):
    """A search query cannot be answered as given."""


class IndexError_(DrafterError):
    """The vector index is missing, stale or unreachable."""
