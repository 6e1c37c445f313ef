"""``textDocument/completion``: the same suggestions as a completion list, for clients that do
not show inline completions.

A client that announced ``textDocument.inlineCompletion`` gets an empty list here (it shows the
suggestion as ghost text already). Otherwise each suggestion becomes an item that replaces the
word before the cursor with that word plus the suggestion, so the client's own filtering keeps
it while the developer types on; the list is marked incomplete so the client asks again. Items
carry the same id and ``tactful.acceptSuggestion`` command as inline items.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from lsprotocol import types

from tactful.analyzers.text import Point, Span
from tactful.server.convert import to_range
from tactful.server.errors import guard
from tactful.server.features.inline_completion import accept_command, complete

if TYPE_CHECKING:
    from tactful.server.app import TactfulServer

_WORD_END = re.compile(r"\w*$")


def _client_shows_inline(server: TactfulServer) -> bool:
    document = server.client_capabilities.text_document
    return document is not None and document.inline_completion is not None


def register(server: TactfulServer) -> None:
    @server.feature(
        types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=["."])
    )
    @guard(
        server, "completion", fallback=lambda: types.CompletionList(is_incomplete=True, items=[])
    )
    async def completion(params: types.CompletionParams) -> types.CompletionList:
        if _client_shows_inline(server):
            return types.CompletionList(is_incomplete=False, items=[])
        # CompletionTriggerKind.Invoked covers typing an identifier as well as Ctrl+Space, so
        # it does not say that the developer asked: only an explicit inline request does.
        answer = await complete(server, params.text_document.uri, params.position, "automatic")
        if answer is None:
            return types.CompletionList(is_incomplete=True, items=[])
        items = []
        for rank, shown in enumerate(answer.shown):
            position = shown.position
            line = answer.lines.line(position.line)
            head = line[: position.column - shown.suggestion.replace_prefix]
            word = _WORD_END.search(head).group(0)  # type: ignore[union-attr]
            start = Point(position.line, len(head) - len(word))
            new_text = word + shown.suggestion.text
            label = shown.suggestion.label or new_text.split("\n", 1)[0].strip() or new_text
            items.append(
                types.CompletionItem(
                    label=label,
                    kind=types.CompletionItemKind.Text,
                    detail=f"tactful ({shown.suggestion.engine})",
                    filter_text=new_text,
                    sort_text=f"{rank:04d}",
                    preselect=rank == 0,
                    insert_text_format=types.InsertTextFormat.PlainText,
                    text_edit=types.TextEdit(
                        range=to_range(Span(start, position), answer.lines, server.encoding),
                        new_text=new_text,
                    ),
                    command=accept_command(shown.id),
                )
            )
        return types.CompletionList(is_incomplete=True, items=items)
