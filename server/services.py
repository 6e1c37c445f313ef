"""The parts of the server that features share, typed: ``server.services``.

Boundary: wiring inside the server. A feature reaches another's part through this one object
(``server.services.feedback``, ``.completion``, ``.review``), never by a name in a table, so a
type checker sees every use. Parts that are made once are made the first time something asks
for them, importing their modules then: ``initialize`` pays for none of them. Parts that start
and stop with the session (the feedback loop and its store, the repository index, the LLM
engine) are set by the feature that owns them and are None until they start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tactful.analyzers.index import RepositoryIndex
    from tactful.feedback.changes import Changes
    from tactful.feedback.completion import CompletionPipeline
    from tactful.feedback.loop import FeedbackLoop
    from tactful.feedback.next_edits import NextEditPipeline
    from tactful.feedback.pause import Typing
    from tactful.feedback.quality import QualityPipeline
    from tactful.feedback.review.pipeline import ReviewPipeline
    from tactful.feedback.team.link import TeamLink
    from tactful.server.app import TactfulServer
    from tactful.server.diagnostics import DiagnosticsPublisher
    from tactful.server.features.code_action import Provider
    from tactful.server.features.indexing import ImportsCounting
    from tactful.server.features.status import StatusNotifier
    from tactful.suggestion.engine import EngineRegistry
    from tactful.suggestion.llm import LlmEngine
    from tactful.suggestion.local.engine import LocalEngine


@dataclass(eq=False)
class Services:
    """What the features of one server share."""

    server: TactfulServer
    # Set at ``initialized``, gone at shutdown (feature ``feedback``).
    feedback: FeedbackLoop | None = None
    # Set at ``initialized`` when there is a workspace folder (feature ``indexing``).
    index: RepositoryIndex | None = None
    # Set while ``feedback.team`` names a team store (feature ``feedback``, via ``team``).
    team: TeamLink | None = None
    # Set while ``llm.model`` names a model (feature ``llm``); when the model it names cannot be
    # used (the embedded model not installed), why.
    llm: LlmEngine | None = None
    llm_unavailable: str | None = None
    # Set when the first document opens (feature ``next_edits``), which loads the engine.
    next_edits: NextEditPipeline | None = None
    # Sources of code actions by name (``code_action.add_provider``).
    code_actions: dict[str, Provider] = field(default_factory=dict)

    @cached_property
    def local(self) -> LocalEngine:
        """The local completion engine, reading the index once there is one."""
        from tactful.suggestion.local.engine import LocalEngine

        return LocalEngine(self.index)

    @cached_property
    def imports_counting(self) -> ImportsCounting:
        """Builds the local engine's statistics of the modules open documents import, in the
        background (requests never wait for them)."""
        from tactful.server.features.indexing import ImportsCounting

        return ImportsCounting(self.server)

    @cached_property
    def engines(self) -> EngineRegistry:
        """The completion engines: the local one, and the LLM engine while one is set (the
        ``llm`` feature registers it)."""
        from tactful.suggestion.engine import EngineRegistry

        engines = EngineRegistry()
        engines.register(self.local)
        return engines

    @cached_property
    def completion(self) -> CompletionPipeline:
        """The completion pipeline, with the suggestions it showed by id."""
        from tactful.feedback.completion import CompletionPipeline
        from tactful.server.executor import ENGINE
        from tactful.server.features.inline_completion import announce

        # ``ask``: a slice of the engine's background work running when a request comes stops
        # at its next step, so that the request runs next.
        return CompletionPipeline(
            self.engines,
            lambda: self.feedback,
            ENGINE.ask,
            lambda request: announce(self.server, request),
        )

    @cached_property
    def status(self) -> StatusNotifier:
        """The ``tactful/status`` notification, sent when what it says changes."""
        from tactful.server.features.status import StatusNotifier

        return StatusNotifier(self.server)

    @cached_property
    def diagnostics(self) -> DiagnosticsPublisher:
        """The quality and review diagnostics of each document, pushed or pulled as one."""
        from tactful.server.diagnostics import DiagnosticsPublisher

        return DiagnosticsPublisher(self.server)

    @cached_property
    def typing(self) -> Typing:
        """When the developer types and pauses, as the messages say (``protocol.py`` feeds it):
        the background work that competes with typing for the interpreter waits for pauses."""
        from tactful.feedback.pause import Typing

        return Typing()

    @cached_property
    def changes(self) -> Changes:
        """The working tree's diff against ``review.base`` and the recorded baseline, read off
        the loop and kept, for review and quality alike."""
        from tactful.feedback.changes import Changes
        from tactful.server.executor import run_blocking

        return Changes(run_blocking)

    @cached_property
    def review(self) -> ReviewPipeline:
        """The review pipeline: the diff, each document's comments, what was learned."""
        from tactful.server.features.review import pipeline

        return pipeline(self.server)

    @cached_property
    def quality(self) -> QualityPipeline:
        """The quality pipeline: each open document's findings and judged fixes."""
        from tactful.server.features.quality import pipeline

        return pipeline(self.server)
