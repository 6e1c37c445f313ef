"""The differential check inside the sandbox: an old and a new version of a function, same inputs.

Boundary: started by the judge as ``PYTHON harness.py SPEC`` with the *workspace's* interpreter,
in the run copy with the edit applied, inside the sandbox (no network, limits, writable copy and
/tmp only), so it imports only the standard library. For each target it imports the module (the
new text), compiles the old and the new ``def`` (decorators left out, at their own line
numbers, in the module's globals, in their class for a method), and calls each version on every
input in a forked child, and the old one once more where they differ (an input on which the old
one disagrees with itself is dropped: the function is not deterministic there). What a call
returned or raised (an exception by its type; one a changed ``raise`` statement raised by its
type and message), and what it did to its arguments and its instance, is compared in a
canonical form. The module's name for the function points at the version being called, so
recursion and callers within the module see that version. A line tracer notes whether any input
reached a changed line; an input ran the change to its end when the call returned, or raised
from a changed ``raise`` statement. The report goes to the ``out`` file named in the spec as
JSON.
"""

import asyncio
import functools
import inspect
import io
import json
import math
import os
import pickle
import random
import re
import select
import signal
import struct
import sys
import time
import types

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")
_MAX_DEPTH = 6
_MAX_ITEMS = 200
_SHORT = 160


class _CallTimeout(BaseException):
    pass


# Calls come from a frame of a module of their own, as from a client of the function's module:
# a function that looks at its caller (its module's name, its package) sees an ordinary caller,
# not this script's __main__.
_CALLER = {"__name__": "tactful_caller", "__package__": None, "__builtins__": __builtins__}
exec(
    compile(
        "def call(function, args, kwargs):\n    return function(*args, **kwargs)\n",
        "<caller>",
        "exec",
    ),
    _CALLER,
)
_CALL = _CALLER["call"]


class _Printed(io.TextIOWrapper):
    """A text stream with a ``buffer``, as ``sys.stdout`` has, keeping what is written."""

    def __init__(self):
        super().__init__(io.BytesIO(), encoding="utf-8", errors="replace", write_through=True)

    def text(self):
        self.flush()
        written = self.buffer.getvalue().decode("utf-8", "replace")
        return _normal(written[:4000])


def _normal(text):
    return _ADDRESS.sub("0x…", text)


def _short(value):
    try:
        text = repr(value)
    except BaseException as exc:  # a repr that fails says little: name the type
        text = f"<{type(value).__name__} (repr failed: {type(exc).__name__})>"
    text = _normal(text)
    return text if len(text) <= _SHORT else text[: _SHORT - 1] + "…"


def canonical(value, depth=0, path=None):
    """A comparable, picklable form of ``value``: equal for values a caller cannot tell apart."""
    path = path or set()
    kind = type(value)
    name = f"{kind.__module__}.{kind.__qualname__}"
    if value is None or kind in (bool, int, str):
        return (name, value)
    if kind is float:
        return (name, "nan" if math.isnan(value) else repr(value))
    if kind in (bytes, bytearray, complex):
        return (name, repr(value))
    if depth >= _MAX_DEPTH:
        return (name, "…")
    if id(value) in path:
        return (name, "<cycle>")
    inner = path | {id(value)}
    if isinstance(value, (list, tuple)):
        items = [canonical(v, depth + 1, inner) for v in value[:_MAX_ITEMS]]
        return (name, len(value), items)
    if isinstance(value, dict):
        pairs = [
            (canonical(k, depth + 1, inner), canonical(v, depth + 1, inner))
            for k, v in list(value.items())[:_MAX_ITEMS]
        ]
        return (name, len(value), sorted(pairs, key=repr))
    if isinstance(value, (set, frozenset)):
        items = sorted((canonical(v, depth + 1, inner) for v in value), key=repr)
        return (name, items[:_MAX_ITEMS])
    if isinstance(value, BaseException):
        return (name, _normal(str(value)))
    if isinstance(value, (io.StringIO, io.BytesIO)):
        return (name, value.getvalue(), value.tell())
    if inspect.isgenerator(value) or (
        hasattr(value, "__next__") and hasattr(value, "__iter__") and not hasattr(value, "__len__")
    ):
        items = []
        for item in value:
            items.append(canonical(item, depth + 1, inner))
            if len(items) >= _MAX_ITEMS:
                break
        return ("iterator", items)
    if inspect.iscoroutine(value):
        return canonical(asyncio.run(value), depth, path)
    if isinstance(value, types.FunctionType):
        # a function made by the call (a closure, a decorator) is what it captured
        cells = []
        for cell in value.__closure__ or ():
            try:
                cells.append(canonical(cell.cell_contents, depth + 1, inner))
            except ValueError:  # an empty cell
                cells.append(("cell", "<empty>"))
        return (
            name,
            value.__qualname__,
            cells,
            canonical(value.__defaults__, depth + 1, inner),
            canonical(value.__kwdefaults__, depth + 1, inner),
        )
    if isinstance(value, functools.partial):
        return (
            name,
            canonical(value.func, depth + 1, inner),
            canonical(value.args, depth + 1, inner),
            canonical(value.keywords, depth + 1, inner),
        )
    if isinstance(value, (types.BuiltinFunctionType, type, types.ModuleType)):
        return (name, getattr(value, "__qualname__", getattr(value, "__name__", "?")))
    if isinstance(value, types.MethodType):
        return (name, value.__func__.__qualname__)
    state = getattr(value, "__dict__", None)
    if isinstance(state, dict):
        return (name, canonical(state, depth + 1, inner))
    slots = [s for k in kind.__mro__ for s in getattr(k, "__slots__", ()) if isinstance(s, str)]
    if slots:
        return (
            name,
            [(s, canonical(getattr(value, s, "<unset>"), depth + 1, inner)) for s in slots],
        )
    return (name, _normal(repr(value)))


def _owner(module, path):
    owner = module
    for name in path:
        owner = getattr(owner, name)
    return owner


def _build(target, version, module, owner):
    """The function compiled from one version's ``def``, with the module's globals."""
    source = target[f"{version}_source"]
    line = target[f"{version}_def_line"]
    if target["owner"]:
        text = "\n" * max(0, line - 2) + f"class {owner.__name__}:\n" + source
    else:
        text = "\n" * max(0, line - 1) + source
    code = compile(text, module.__file__, "exec")
    scratch = {}
    exec(code, module.__dict__, scratch)
    if target["owner"]:
        function = scratch[owner.__name__].__dict__[target["name"]]
    else:
        function = scratch[target["name"]]
    if "__class__" in function.__code__.co_freevars:
        # zero-argument super() needs the real class in the cell the compiler made
        cells = tuple(
            types.CellType(owner) if name == "__class__" else types.CellType()
            for name in function.__code__.co_freevars
        )
        rebuilt = types.FunctionType(
            function.__code__, function.__globals__, function.__name__, function.__defaults__, cells
        )
        rebuilt.__kwdefaults__ = function.__kwdefaults__
        function = rebuilt
    return function


def _codes(function):
    """The function's code object and every code object nested in it."""
    found, stack = set(), [function.__code__]
    while stack:
        code = stack.pop()
        found.add(code)
        stack.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    return found


def _arrange(params, value):
    """(args, kwargs) for a call, from {name: value} of the old function's parameters."""
    given = value.get("params", {})
    args, kwargs, gap = [], {}, False
    for param in params:
        name, kind = param["name"], param["kind"]
        if kind in ("positional", "positional_only"):
            if name in given and not gap:
                args.append(given[name])
            elif name in given:
                if kind == "positional_only":
                    raise ValueError("a positional-only parameter after a missing one")
                kwargs[name] = given[name]
            else:
                gap = True
        elif kind == "var_positional":
            if value.get("varargs"):
                if gap:
                    raise ValueError("extra positional arguments after a missing one")
                args.extend(value["varargs"])
        elif kind == "keyword_only":
            if name in given:
                kwargs[name] = given[name]
        elif kind == "var_keyword":
            kwargs.update(value.get("varkw") or {})
    return args, kwargs


def _call_text(target, args, kwargs):
    parts = [_short(a) for a in args] + [f"{k}={_short(v)}" for k, v in kwargs.items()]
    return f"{target['name']}({', '.join(parts)})"


def _bind(owner, target, function):
    kind = target["bound"]
    if kind == "staticmethod":
        return staticmethod(function)
    if kind == "classmethod":
        return classmethod(function)
    if kind == "property":
        real = owner.__dict__[target["name"]]
        return property(function, real.fset, real.fdel, real.__doc__)
    return function


def _raised_from(exc, codes, raises):
    """Whether ``exc`` was raised by one of the function's own ``raise`` statements on the
    lines ``raises`` (the innermost frame of its traceback is the function's, at such a line)."""
    last = exc.__traceback__
    while last is not None and last.tb_next is not None:
        last = last.tb_next
    return last is not None and last.tb_frame.f_code in codes and last.tb_lineno in raises


def _one_call(target, owner, function, blob, codes, changed, per_call_s, raises=frozenset()):
    """Run in a forked child: one call of one version on one input; returns its outcome."""
    reached = []

    def local(frame, event, arg):
        if event == "line" and frame.f_lineno in changed:
            reached.append(frame.f_lineno)
        return local

    def tracer(frame, event, arg):
        return local if frame.f_code in codes else None

    value = pickle.loads(blob)
    kind = target["bound"]
    instance = None
    if kind in ("method", "property"):
        self_name = target["self"]
        if self_name in value.get("params", {}):
            instance = value["params"].pop(self_name)
        else:
            # made as the class's __init__ takes it, with the input's arguments for it
            try:
                init_args, init_kwargs = _arrange(target["init_params"], value.get("init", {}))
                instance = owner(*init_args, **init_kwargs)
            except BaseException as exc:
                return {"unmakeable": f"cannot make a {owner.__name__} to call it on ({exc!r})"}
    elif kind == "classmethod":
        value.get("params", {}).pop(target["self"], None)
    try:
        args, kwargs = _arrange(target["params"], value)
    except ValueError as exc:
        return {"unmakeable": str(exc)}
    shown = _call_text(target, args, kwargs)
    name = target["name"]
    saved = vars(owner).get(name)
    setattr(owner, name, _bind(owner, target, function))
    random.seed(20240611)

    def timeout(*_):
        raise _CallTimeout()

    signal.signal(signal.SIGALRM, timeout)
    signal.setitimer(signal.ITIMER_REAL, per_call_s)
    # what the call prints is part of what it does
    streams = sys.stdout, sys.stderr
    printed = [_Printed(), _Printed()]
    sys.stdout, sys.stderr = printed
    sys.settrace(tracer)
    outcome = None
    try:
        if kind in ("method",):
            result = _CALL(function, (instance, *args), kwargs)
        elif kind == "property":
            result = _CALL(function, (instance,), {})
        elif kind == "classmethod":
            result = _CALL(function, (owner, *args), kwargs)
        else:
            result = _CALL(function, args, kwargs)
        if inspect.iscoroutine(result):
            result = asyncio.run(result)
        outcome = {
            "kind": "return",
            "value": canonical(result),
            "text": f"returned {_short(result)}",
        }
    except _CallTimeout:
        outcome = {"kind": "timeout", "text": f"did not return within {per_call_s} s"}
    except SystemExit as exc:
        outcome = {"kind": "exit", "value": repr(exc.code), "text": f"exited ({exc.code!r})"}
    except BaseException as exc:
        outcome = {
            "kind": "raise",
            "value": canonical(exc),
            "text": f"raised {type(exc).__name__}({_short(str(exc))})",
            "at_change": _raised_from(exc, codes, raises),
        }
    finally:
        sys.settrace(None)
        signal.setitimer(signal.ITIMER_REAL, 0)
        sys.stdout, sys.stderr = streams
        if saved is not None:
            setattr(owner, name, saved)
    outcome["printed"] = [stream.text() for stream in printed]
    try:
        outcome["after"] = canonical(
            {"args": args, "kwargs": kwargs, "instance": getattr(instance, "__dict__", None)}
        )
    except BaseException as exc:
        outcome["after"] = ("uncomparable", type(exc).__name__)
    outcome["call"] = shown
    outcome["reached"] = bool(reached)
    return outcome


def _in_child(work, per_call_s):
    """``work()`` in a forked child, its result pickled back; a crash or hang is an outcome."""
    if not hasattr(os, "fork"):
        return work()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            payload = pickle.dumps(work())
        except BaseException as exc:
            payload = pickle.dumps({"kind": "crash", "text": f"could not be observed ({exc!r})"})
        # the length first: a process the call left behind may hold the pipe open
        data = struct.pack("!Q", len(payload)) + payload
        while data:
            data = data[os.write(write_end, data) :]
        os._exit(0)
    os.close(write_end)
    received = b""
    wanted = None
    deadline = time.monotonic() + per_call_s + 5
    try:
        while wanted is None or len(received) < wanted:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                os.kill(pid, signal.SIGKILL)
                return {"kind": "timeout", "text": "did not return in time"}
            ready, _, _ = select.select([read_end], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(read_end, 1 << 16)
            if not chunk:
                break
            received += chunk
            if wanted is None and len(received) >= 8:
                wanted = 8 + struct.unpack("!Q", received[:8])[0]
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
    if wanted is None or len(received) < wanted:
        return {"kind": "crash", "text": "ended the process"}
    try:
        return pickle.loads(received[8:wanted])
    except Exception:
        return {"kind": "crash", "text": "ended the process"}


def _same(first, second):
    """Same behaviour: the same value returned (or the same exception type raised: messages
    name whatever went wrong first, which a reordering that changes nothing else may change),
    the same printed, and the arguments and instance left in the same state."""
    for key in ("kind", "after", "printed"):
        if first.get(key) != second.get(key):
            return False
    if first.get("kind") == "raise" and not (first.get("at_change") and second.get("at_change")):
        return first["value"][0] == second["value"][0]
    # what a changed raise statement raises is compared whole: its type and its message
    return first.get("value") == second.get("value")


def check(target, spec):
    # compared: inputs run through both versions; reached: those that ran a changed line;
    # returned: those among them that ran the change to its end (the old version returned, or
    # both raised from a changed raise statement)
    report = {"label": target["label"], "compared": 0, "dropped": 0, "reached": 0, "returned": 0}
    try:
        sys.path.insert(0, os.path.join(spec["root"], target["import_root"]))
        module = __import__(target["module"], fromlist=["*"])
        owner = _owner(module, target["owner"])
    except BaseException as exc:
        report["error"] = f"could not import {target['module']}: {exc!r}"[:400]
        return report
    try:
        old = _build(target, "old", module, owner)
        new = _build(target, "new", module, owner)
    except BaseException as exc:
        report["error"] = f"could not compile the two versions: {exc!r}"[:400]
        return report
    per_call_s = spec.get("per_call_s", 2.0)
    deadline = time.monotonic() + spec.get("budget_s", 30.0)
    old_codes, new_codes = _codes(old), _codes(new)
    old_changed, new_changed = set(target["old_changed"]), set(target["new_changed"])
    old_raises = frozenset(target.get("old_raises", ()))
    new_raises = frozenset(target.get("new_raises", ()))
    unmakeable = None
    blobs = []
    for name in sorted(os.listdir(target["inputs"])):
        with open(os.path.join(target["inputs"], name), "rb") as handle:
            blobs.append(handle.read())
    for blob in blobs:
        if time.monotonic() > deadline:
            break

        def run(function, codes, changed, raises, blob=blob):
            return _in_child(
                lambda: _one_call(
                    target, owner, function, blob, codes, changed, per_call_s, raises
                ),
                per_call_s,
            )

        first = run(old, old_codes, old_changed, old_raises)
        if "unmakeable" in first:
            unmakeable = first["unmakeable"]
            continue
        if first["kind"] in ("timeout", "crash"):
            report["dropped"] += 1
            continue
        fresh = run(new, new_codes, new_changed, new_raises)
        if not _same(first, fresh):
            # a difference counts only if the old version agrees with itself on that input
            second = run(old, old_codes, old_changed, old_raises)
            if not _same(first, second):
                report["dropped"] += 1
                continue
        report["compared"] += 1
        if first.get("reached") or fresh.get("reached"):
            report["reached"] += 1
            # the change ran to its end: the call returned, or a changed raise statement raised
            report["returned"] += first["kind"] == "return" or bool(
                first.get("at_change") and fresh.get("at_change")
            )
        if not _same(first, fresh):
            old_text, new_text = first["text"], fresh["text"]
            if fresh.get("printed") != first.get("printed"):
                old_text += f", printing {_short(''.join(first.get('printed') or []))}"
                new_text += f", printing {_short(''.join(fresh.get('printed') or []))}"
            if fresh.get("after") != first.get("after"):
                new_text += ", and left its arguments or instance in another state"
            report["different"] = {"input": first["call"], "old": old_text, "new": new_text}
            break
    if report["compared"] == 0 and unmakeable:
        report["error"] = unmakeable
    return report


def main(argv):
    with open(argv[1], encoding="utf-8") as handle:
        spec = json.load(handle)
    os.chdir(spec["root"])
    results = [check(target, spec) for target in spec["targets"]]
    with open(spec["out"], "w", encoding="utf-8") as handle:
        json.dump({"results": results}, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
