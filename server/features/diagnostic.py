"""``textDocument/diagnostic``: the pull model of diagnostics.

Answers with the union the features set in ``server/diagnostics.py``; a client that pulls is
told to pull again (``workspace/diagnostic/refresh``) when background work finds something new.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

from tactful.server.diagnostics import publisher
from tactful.server.errors import guard

if TYPE_CHECKING:
    from tactful.server.app import TactfulServer


def _empty() -> types.RelatedFullDocumentDiagnosticReport:
    return types.RelatedFullDocumentDiagnosticReport(items=[])


def register(server: TactfulServer) -> None:
    @server.feature(
        types.TEXT_DOCUMENT_DIAGNOSTIC,
        types.DiagnosticOptions(
            identifier="tactful", inter_file_dependencies=False, workspace_diagnostics=False
        ),
    )
    @guard(server, "diagnostics", fallback=_empty)
    def diagnostic(params: types.DocumentDiagnosticParams) -> types.DocumentDiagnosticReport:
        diagnostics = publisher(server)
        uri = params.text_document.uri
        result_id = str(diagnostics.result_ids.get(uri, 0))
        if params.previous_result_id == result_id:
            return types.RelatedUnchangedDocumentDiagnosticReport(result_id=result_id)
        return types.RelatedFullDocumentDiagnosticReport(
            items=diagnostics.get(uri), result_id=result_id
        )
