"""``textDocument/codeAction`` and ``codeAction/resolve``: fixes offered with their verdict.

LSP concept: a code action is listed cheaply (title, kind, the diagnostics it answers) and its
edit is filled in only when the user picks it (``codeAction/resolve``). Titles state the verdict
of the fix, as DESIGN §2 says: ``Remove unused import: `os` (F401) — 14 tests passed``,
``… — tests pass, but none runs this code``, ``… — same behaviour on 100 inputs``,
``… — unsafe fix, not validated (workspace not trusted)``. Only a fix whose tests ran the fixed
code and passed is ``isPreferred``; ``source.fixAll.tactful`` gathers the fixes that passed so
or that ruff calls safe, never an unvalidated unsafe or LLM fix, nor one no test runs.

What is applied is what was proven: resolving a fix whose tests are still running waits for its
verdict (up to ``validation.timeoutS``; a ``$/cancelRequest`` for the resolve stops the wait,
not the tests). A fix the tests rejected, or one still untested at the deadline that ruff does
not call safe, comes back without an edit, and a message says why. Verdicts arriving later are
announced with ``tactful/verdictsChanged`` (see quality.py), on which editors list the actions
again.

A request is one turn of the quality pipeline (``QualityPipeline.quick_fixes``,
feedback/quality.py), which decides what is offered: quick fixes pass the feedback loop's item
model, listed most likely useful first, the ones it hides left out. Each carries
the command ``tactful.fixApplied [id]``, which the editor runs after applying the edit, so the
model learns what the developer takes. ``source.fixAll.tactful`` is not filtered: the developer
asked for every safe or validated fix, and a fix-all that silently skipped some would be a
broken promise, not tact. Its command ``tactful.fixApplied [[ids], "fixAll"]`` records those
fixes as applied without teaching the model, since nobody chose them one by one (and a fix-all
on every save would otherwise teach that every rule is welcome).

Other features add their own actions through ``add_provider`` (a provider lists actions for a
request; its resolver, if any, fills in actions whose ``data.provider`` names it), so this is
the one handler of the method.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from tactful.analyzers.findings import Finding
from tactful.feedback.fixes import FixOffer
from tactful.feedback.quality import QuickFixRequest
from tactful.feedback.turn import Outcome
from tactful.server.convert import Lines, to_range, to_span, to_text_edit
from tactful.server.errors import guard
from tactful.server.features.feedback import committed
from tactful.server.features.quality import SOURCE, service

if TYPE_CHECKING:
    from tactful.server.app import TactfulServer

logger = logging.getLogger(__name__)

FIX_ALL = "source.fixAll.tactful"
QUALITY = "quality"
FIX_APPLIED = "tactful.fixApplied"

Provide = Callable[
    [types.CodeActionParams], "list[types.CodeAction] | Awaitable[list[types.CodeAction]]"
]
Resolve = Callable[[types.CodeAction], "types.CodeAction | Awaitable[types.CodeAction]"]


@dataclass(frozen=True)
class Provider:
    name: str
    provide: Provide
    resolve: Resolve | None = None


def providers(server: TactfulServer) -> dict[str, Provider]:
    return server.services.code_actions


def add_provider(
    server: TactfulServer, name: str, provide: Provide, resolve: Resolve | None = None
) -> None:
    """Add a source of code actions; actions it wants resolved carry ``data["provider"] = name``."""
    providers(server)[name] = Provider(name, provide, resolve)


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def _wanted(params: types.CodeActionParams, kind: str) -> bool:
    only = params.context.only
    if not only:
        return True
    return any(kind == k or kind.startswith(f"{k}.") for k in only)


class QualityActions:
    """Quick fixes per finding and the fix-all action, from the quality service."""

    def __init__(self, server: TactfulServer) -> None:
        self.server = server

    async def provide(self, params: types.CodeActionParams) -> list[types.CodeAction]:
        uri = params.text_document.uri
        document = self.server.documents.get(uri)
        if document is None:
            return []
        encoding = self.server.encoding
        quick = _wanted(params, types.CodeActionKind.QuickFix)
        request = QuickFixRequest(
            uri,
            document.version,
            to_span(params.range, Lines.of(document), encoding) if quick else None,
            fix_all=_wanted(params, FIX_ALL),
            # A client computing a light bulb asks with ``Automatic`` as the cursor moves; only
            # a request the developer made (the menu, a key; clients that do not say count as
            # one) puts the fixes in front of them.
            seen=params.context.trigger_kind != types.CodeActionTriggerKind.Automatic,
        )
        turn = await service(self.server).quick_fixes(request)
        state = turn.state
        if state is None or turn.outcome is Outcome.STALE:
            return []
        lines = Lines(state.text)
        actions: list[types.CodeAction] = []
        for shown in turn.shown:
            offer = shown.offer
            command = types.Command(title=offer.title, command=FIX_APPLIED, arguments=[shown.id])
            actions.append(
                types.CodeAction(
                    title=offer.title,
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=[self._diagnostic(offer.finding, lines, encoding)],
                    is_preferred=True if offer.validated else None,
                    command=command,
                    data={
                        "provider": QUALITY,
                        "uri": uri,
                        "version": state.version,
                        "index": shown.index,
                    },
                )
            )
        if turn.fix_all:
            title = "Fix all tactful quality findings that are safe or validated"
            ids = [fix.id for fix in turn.fix_all]
            actions.append(
                types.CodeAction(
                    title=title,
                    kind=FIX_ALL,
                    command=types.Command(
                        title=title, command=FIX_APPLIED, arguments=[ids, "fixAll"]
                    ),
                    data={"provider": QUALITY, "uri": uri, "version": state.version, "all": True},
                )
            )
        return actions

    def _diagnostic(self, finding: Finding, lines: Lines, encoding: str) -> types.Diagnostic:
        return types.Diagnostic(
            range=to_range(finding.span, lines, encoding),
            message=finding.message,
            code=finding.rule,
            source=SOURCE,
        )

    async def resolve(self, action: types.CodeAction) -> types.CodeAction:
        data = action.data if isinstance(action.data, dict) else {}
        uri = data.get("uri")
        state = service(self.server).documents.get(uri) if isinstance(uri, str) else None
        document = self.server.documents.get(uri) if isinstance(uri, str) else None
        if not isinstance(uri, str) or state is None or document is None:
            return action
        if data.get("version") != state.version or document.version != state.version:
            # The document moved on: the edit would land in the wrong place.
            return action
        if data.get("all"):
            fixes = service(self.server).fix_all(state)
            edits = [e for fix in fixes if fix.offer.fix for e in fix.offer.fix.edits]
        else:
            offer = await self._proven(uri, int(data.get("index", -1)), action.title)
            current = self.server.documents.get(uri)
            if offer is None or current is None or current.version != state.version:
                action.command = None  # nothing is applied, so nothing to record
                return action
            assert offer.fix is not None
            edits = list(offer.fix.edits)
            action.title = offer.title
        lines = Lines(state.text)
        encoding = self.server.encoding
        text_edits = [to_text_edit(edit, lines, encoding) for edit in edits]
        action.edit = types.WorkspaceEdit(
            document_changes=[
                types.TextDocumentEdit(
                    text_document=types.OptionalVersionedTextDocumentIdentifier(
                        uri=uri, version=state.version
                    ),
                    edits=text_edits,
                )
            ]
        )
        return action

    async def _proven(self, uri: str, index: int, title: str) -> FixOffer | None:
        """The fix to apply for a finding once its verdict is in, or None (and the user told
        why) when none may be applied."""
        quality = service(self.server)
        timeout = self.server.settings.validation.timeout_s
        offer = await quality.judged_offer(uri, index, timeout)
        if offer is None:
            pending = await quality.offer(uri, index)
            if pending is None or pending.fix is None:
                return None
            validating = self.server.settings.validation.enabled and self.server.trusted
            if validating and not pending.safe:
                self.server.show_message(
                    f"tactful: not applied: {title}: its tests were still running after "
                    f"{timeout:.0f} s; try again when they are done",
                    types.MessageType.Warning,
                )
                return None
            return pending
        if offer.fix is None or offer.verdict.rejected:
            self.server.show_message(
                f"tactful: not applied: {title}: {offer.verdict.summary()}",
                types.MessageType.Warning,
            )
            return None
        return offer


def register(server: TactfulServer) -> None:
    quality = QualityActions(server)
    add_provider(server, QUALITY, quality.provide, quality.resolve)

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(
            code_action_kinds=[types.CodeActionKind.QuickFix, FIX_ALL],
            resolve_provider=True,
        ),
    )
    @guard(server, "code actions", fallback=list)
    async def code_action(params: types.CodeActionParams) -> list[types.CodeAction]:
        actions: list[types.CodeAction] = []
        for provider in list(providers(server).values()):
            try:
                actions.extend(await _maybe_await(provider.provide(params)) or [])
            except Exception as error:
                logger.exception("code actions from %s failed", provider.name)
                server.errors.report(f"code actions ({provider.name})", error)
        return actions

    @server.command(FIX_APPLIED)
    @guard(server, "recording an applied fix", fallback=False)
    async def fix_applied(*args: Any) -> bool:
        first = args[0] if args else None
        given = first if isinstance(first, list) else [first]
        ids = [i for i in given if isinstance(i, str) and i]
        if not given or len(ids) != len(given):
            logger.warning("%s takes the id of a fix, or a list of them, got %r", FIX_APPLIED, args)
            return False
        explicit = not (len(args) > 1 and args[1] == "fixAll")
        recorded = service(server).fix_applied(ids, explicit)
        await committed(server)  # answered once the event is in the store
        return recorded

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def resolve(action: types.CodeAction) -> types.CodeAction:
        data = action.data if isinstance(action.data, dict) else {}
        provider = providers(server).get(str(data.get("provider", "")))
        if provider is None or provider.resolve is None:
            return action
        try:
            return await _maybe_await(provider.resolve(action))
        except Exception as error:
            # The action goes back unresolved (no edit) rather than the request failing.
            logger.exception("resolving a code action of %s failed", provider.name)
            server.errors.report(f"resolving a code action ({provider.name})", error)
            return action
