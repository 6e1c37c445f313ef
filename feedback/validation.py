"""Whether a proposed edit's tests may run here, and their verdict on it.

Boundary: plain Python between the server, which resolves the settings, the editor's trust and
its interpreter into a ``Validation`` (``server/validation.py:validation_of``), and the pipelines
that validate edits by the workspace's tests: quality fixes (``quality.py``) and next edits in
other files (``next_edits.py``). Both follow one rule for when tests may run, and say the same
thing when they may not.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from tactful.analyzers.text import Edit
from tactful.feedback.execution.verdict import Status, Verdict, not_validated

logger = logging.getLogger(__name__)

OFF = "validation is off"
UNTRUSTED = "workspace not trusted"
NO_FOLDER = "no workspace folder"


class Tests(Protocol):
    """Runs the workspace's tests on a sandboxed copy with edits applied (``Sandbox``)."""

    def validate(
        self, edits: Sequence[Edit], *, overlays: Mapping[str, str] | None = None
    ) -> Coroutine[Any, Any, Verdict]: ...


@dataclass(frozen=True, slots=True)
class Validation:
    """``tests`` gives the workspace's sandbox when edits may be tested, else None and
    ``reason`` says why (the words a "not validated (...)" label carries)."""

    tests: Callable[[], Tests] | None = None
    reason: str = OFF

    @classmethod
    def decide(
        cls, *, enabled: bool, trusted: bool, has_folder: bool, tests: Callable[[], Tests]
    ) -> Validation:
        """Tests run only with validation on, in a trusted workspace that has a folder (the
        first that fails is the reason)."""
        if not enabled:
            return cls(None, OFF)
        if not trusted:
            return cls(None, UNTRUSTED)
        if not has_folder:
            return cls(None, NO_FOLDER)
        return cls(tests, "")

    @property
    def may_run(self) -> bool:
        return self.tests is not None

    async def verdict(
        self, edits: Sequence[Edit], overlays: Mapping[str, str] | None = None
    ) -> Verdict:
        """The tests' verdict on ``edits`` (``overlays``: texts the editor has that differ from
        the files), or "not validated" with the reason when they may not run. A sandbox that
        cannot run gives an error verdict, not an exception."""
        if self.tests is None:
            return not_validated(self.reason)
        try:
            return await self.tests().validate(edits, overlays=overlays)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            logger.exception("running the tests on an edit failed")
            return Verdict(Status.ERROR, reason=str(error))
