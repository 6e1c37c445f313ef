"""Diagnostics from several sources on one document, pushed and pulled as one set.

``publishDiagnostics`` replaces everything a client shows for a document, so each feature
(``tactful.quality``, ``tactful.review``) sets its own part here and the union is published.
Clients that pull (``textDocument/diagnostic``) get the same union. A part computed for an older
version of the document than the newest part already set is dropped.

A finding shows once per line whichever part found it: where both parts say the same thing on
one line (the same rule, or a ruff code and the review rule that says the same, such as
``E722`` and ``broad-except``), the union keeps the better one
(``suggestion.review.ranking.once_per_line``: the more severe, then the review rule's fuller
words, then quality's finding, which carries the fix). Each part is kept whole for its feature
(``get_source``); a quality fix stays offered as a code action on its line either way.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from tactful.server.app import TactfulServer

logger = logging.getLogger(__name__)

# Where two parts show the same finding on one line and neither is more severe nor our rule's
# fuller words: quality's finding carries the fix.
PREFERENCE = ("tactful.quality", "tactful.review")


class DiagnosticsPublisher:
    def __init__(self, server: TactfulServer) -> None:
        self.server = server
        self._parts: dict[str, dict[str, list[types.Diagnostic]]] = {}
        self._versions: dict[str, int | None] = {}
        self.result_ids: dict[str, int] = {}

    def set(
        self,
        uri: str,
        source: str,
        diagnostics: list[types.Diagnostic],
        version: int | None = None,
        publish: bool = True,
    ) -> bool:
        """Replace ``source``'s diagnostics on ``uri``; False when they are stale."""
        document = self.server.documents.get(uri)
        if version is not None and document is not None and document.version != version:
            logger.debug(
                "dropping %s diagnostics for %s v%s (now v%s)",
                source,
                uri,
                version,
                document.version,
            )
            return False
        self._parts.setdefault(uri, {})[source] = list(diagnostics)
        self._versions[uri] = version if version is not None else self._versions.get(uri)
        self.result_ids[uri] = self.result_ids.get(uri, 0) + 1
        if publish:
            if self.pushes():
                self.publish(uri)
            else:
                self.refresh()
        return True

    def refresh(self) -> None:
        """Ask a pulling client to pull again, when it accepts being asked."""
        workspace = self.server.client_capabilities.workspace
        diagnostics = workspace.diagnostics if workspace is not None else None
        if diagnostics is not None and diagnostics.refresh_support:
            self.server.workspace_diagnostic_refresh(None)

    def get(self, uri: str) -> list[types.Diagnostic]:
        """What the client is shown for ``uri``: every part, each finding once per line."""
        parts = self._parts.get(uri, {})
        found = [(source, d) for source, part in parts.items() for d in part]
        if sum(1 for part in parts.values() if part) < 2:
            return [d for _source, d in found]
        from tactful.suggestion.review.ranking import once_per_line

        keep = once_per_line(
            [(source, d.range.start.line, str(d.code or ""), _severity(d)) for source, d in found],
            PREFERENCE,
        )
        return [d for (_source, d), kept in zip(found, keep, strict=True) if kept]

    def get_source(self, uri: str, source: str) -> list[types.Diagnostic]:
        return list(self._parts.get(uri, {}).get(source, []))

    def clear(self, uri: str) -> None:
        if self._parts.pop(uri, None) is not None and self.pushes():
            self.server.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=uri, diagnostics=[])
            )
        self._versions.pop(uri, None)

    def publish(self, uri: str) -> None:
        self.server.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(
                uri=uri, diagnostics=self.get(uri), version=self._versions.get(uri)
            )
        )

    def pushes(self) -> bool:
        """Push unless the client pulls and can be told to pull again (see ``pull_mode``)."""
        return not pull_mode(self.server)


def _severity(diagnostic: types.Diagnostic) -> int:
    """0 for an error, up to 3 for a hint; a diagnostic without one counts as a warning."""
    severity = diagnostic.severity or types.DiagnosticSeverity.Warning
    return int(severity) - 1


def pull_mode(server: TactfulServer) -> bool:
    """Whether this client gets diagnostics by pulling.

    Only a client that pulls *and* honours ``workspace/diagnostic/refresh`` can see results that
    background work (ruff after a debounce, review on save, a model) finds after its pull; every
    other client is pushed to, and the pull provider is not advertised to it at all.
    """
    try:
        capabilities = server.client_capabilities
    except Exception:
        return False
    text_document = capabilities.text_document
    workspace = capabilities.workspace
    pulls = text_document is not None and text_document.diagnostic is not None
    refreshes = (
        workspace is not None
        and workspace.diagnostics is not None
        and bool(workspace.diagnostics.refresh_support)
    )
    return pulls and refreshes


def publisher(server: TactfulServer) -> DiagnosticsPublisher:
    """The server's one publisher (created on first use)."""
    return server.services.diagnostics
