"""Whether the LLM provider answers: what went wrong, labelled as what it is, and when to try
the provider again.

Boundary: plain Python, no I/O and no litellm (the labels are read from an exception's type
names, its chain of causes and the HTTP response it carries). The engine reports every call
that reached its end — ``succeeded``, or ``failed`` with a ``Problem`` — and asks ``allows``
before it calls; ``tactful doctor`` labels its own check with the same words.

The rule: a provider that refuses, rejects the key, has no such model or answers an error or
something that is not an answer is down at once; one that does not answer in time is down
after ``TIMEOUTS_BEFORE_DOWN`` misses in a row (a single slow answer is normal for a model on a
CPU). While it is down no call is made, except one try when the back-off has passed: the
back-off starts at ``BACKOFF_S``, doubles at each failed try, and stops growing at
``BACKOFF_CAP_S``. Each change — down, and up again — is returned once as a ``Change``, for the
server to say.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

# The labels of what went wrong, in the words ``tactful doctor`` prints.
OK = "ok"
NO_KEY = "no key"
UNAUTHORIZED = "unauthorized"
REFUSED = "connection refused"
UNREACHABLE = "unreachable"
TIMEOUT = "timeout"
NOT_FOUND = "not found"
BAD_ANSWER = "bad answer"
OTHER = "other"

TIMEOUTS_BEFORE_DOWN = 3
BACKOFF_S = 5.0
BACKOFF_CAP_S = 120.0
# The provider's error text as it is, up to this long (a whole HTML error page is not useful).
DETAIL_CHARS = 4000

_NO_KEY_HINTS = ("missing credentials", "api key is missing", "api_key must be set", "no api key")


@dataclass(frozen=True, slots=True)
class Problem:
    """What went wrong with the provider: ``label`` (one of the labels above), ``detail`` (the
    provider's own error text, whole, or what happened), ``status`` (the HTTP status the
    provider answered, when it answered one)."""

    label: str
    detail: str
    status: int | None = None

    def describe(self) -> str:
        """One line: the label, the status, and the provider's words."""
        status = f" (HTTP {self.status})" if self.status is not None else ""
        return f"{self.label}{status}: {self.detail}" if self.detail else f"{self.label}{status}"


def classify(error: BaseException) -> Problem:
    """The label of an exception raised by a call to a provider (litellm's, the OpenAI
    client's, httpx's, or a deadline), from the root cause rather than the wrapper's name:
    litellm calls a refused connection an internal server error with status 500."""
    chain = list(_causes(error))
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return Problem(REFUSED, _root_text(chain))
    if any(isinstance(e, TimeoutError) or "timeout" in type(e).__name__.lower() for e in chain):
        return Problem(TIMEOUT, "no answer in time")
    response = _http_response(chain)
    if response is not None:
        status, body = response
        return labelled(status, body)
    text = _root_text(chain)
    if any(hint in text.lower() for hint in _NO_KEY_HINTS):
        return Problem(NO_KEY, text)
    if any(isinstance(e, ValueError) for e in chain):
        # Not JSON, not UTF-8, not the shape of an answer (JSONDecodeError and
        # UnicodeDecodeError are ValueErrors).
        return Problem(BAD_ANSWER, text)
    names = " ".join(type(e).__name__ for e in chain)
    if "ConnectError" in names or "ConnectionError" in names or isinstance(chain[-1], OSError):
        return Problem(UNREACHABLE, text)
    return Problem(OTHER, text)


def labelled(status: int, body: str) -> Problem:
    """The label of an HTTP answer that is an error: 401 and 403 are the key, 404 the model
    (or the address), anything else is told by its status and body."""
    detail = body.strip()[:DETAIL_CHARS] or "(no body)"
    if status in (401, 403):
        return Problem(UNAUTHORIZED, detail, status)
    if status == 404:
        return Problem(NOT_FOUND, detail, status)
    return Problem(OTHER, detail, status)


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _http_response(chain: list[BaseException]) -> tuple[int, str] | None:
    """The status and body of the provider's own HTTP answer, from the exception of the HTTP
    client that received it (httpx's, or the OpenAI client's): litellm's wrappers carry a
    made-up response, status 500 and no body, for errors that never had one."""
    for error in reversed(chain):
        if not type(error).__module__.startswith(("httpx", "openai")):
            continue
        response = getattr(error, "response", None)
        status = getattr(response, "status_code", None)
        if not isinstance(status, int) or status < 400:
            continue
        try:
            body = str(response.text)  # type: ignore[union-attr]
        except Exception:
            body = ""
        return status, body
    return None


def _root_text(chain: list[BaseException]) -> str:
    """The most specific message in the chain: the root cause's, else the first with one."""
    for error in reversed(chain):
        text = str(error).strip()
        if text:
            return text[:DETAIL_CHARS]
    return type(chain[0]).__name__


# What the engine can do now (``LlmState.state``).
STARTING = "starting"
READY = "ready"
DOWN = "down"
FAILED = "failed"


@dataclass(frozen=True, slots=True)
class LlmState:
    """The LLM engine now: ``state`` is starting, ready, down (``problem`` says why, and the
    provider is tried again in ``retry_in_s``) or failed (it could not start: ``problem``)."""

    state: str
    problem: Problem | None = None
    retry_in_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Change:
    """The provider went down (``down`` with its problem and when it is tried again) or answers
    again (``down`` False)."""

    down: bool
    problem: Problem | None = None
    retry_in_s: float = 0.0


class ProviderHealth:
    """Up, or down since a problem and backed off; see the module docstring for the rule."""

    def __init__(
        self,
        *,
        backoff_s: float = BACKOFF_S,
        cap_s: float = BACKOFF_CAP_S,
        timeouts_before_down: int = TIMEOUTS_BEFORE_DOWN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backoff_s = backoff_s
        self.cap_s = cap_s
        self.timeouts_before_down = timeouts_before_down
        self.clock = clock
        self.problem: Problem | None = None  # while down: why
        self.retry_at = 0.0
        self._delay = 0.0
        self._timeouts = 0
        self._trying = False

    @property
    def down(self) -> bool:
        return self.problem is not None

    def retry_in(self) -> float:
        """Seconds until the next try (0 when up or due)."""
        return max(0.0, self.retry_at - self.clock()) if self.down else 0.0

    def allows(self) -> bool:
        """Whether a call may go to the provider now: always when up; when down, one call
        (the try) once the back-off has passed, until that call reports."""
        if not self.down:
            return True
        if self._trying or self.clock() < self.retry_at:
            return False
        self._trying = True
        return True

    def succeeded(self) -> Change | None:
        self._timeouts = 0
        self._trying = False
        if not self.down:
            return None
        self.problem = None
        self._delay = 0.0
        return Change(down=False)

    def failed(self, problem: Problem) -> Change | None:
        """A call failed; the change to say when the provider is now down (None when it was
        already down, or when a timeout alone does not make it down yet)."""
        was_down = self.down
        self._trying = False
        if problem.label == TIMEOUT and not was_down:
            self._timeouts += 1
            if self._timeouts < self.timeouts_before_down:
                return None
            problem = Problem(
                TIMEOUT,
                f"no answer in time, {self._timeouts} times in a row",
                problem.status,
            )
        self._delay = min(self.cap_s, self._delay * 2 if self._delay else self.backoff_s)
        self.retry_at = self.clock() + self._delay
        self.problem = problem
        if was_down:
            return None
        return Change(down=True, problem=problem, retry_in_s=self._delay)

    def gave_up(self) -> None:
        """The try was cancelled before it could tell anything (the developer typed on): the
        next request may try."""
        self._trying = False
