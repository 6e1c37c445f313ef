"""pytest plugin that records the inputs a changed function receives in a project's own runs.

Boundary: copied into a run's helper folder and loaded as ``-p tactful_recorder`` into a pytest
run on the unedited copy, inside the sandbox, under the workspace's interpreter: it imports only
the standard library and pytest, and never changes what a test does. ``TACTFUL_RECORD_SPEC``
names a JSON file: ``{"out": folder, "limit": n, "targets": [{"id", "file", "line", "name"}]}``.
Each call of a target (its code object's file, first line and name) has its arguments pickled
at the call, before the body can change them; up to ``limit`` distinct ones per target are
written as ``<id>-<n>.pkl`` for ``harness.py``. An argument that cannot be pickled leaves that
call out.
"""

import hashlib
import inspect
import json
import os
import pickle
import sys
import threading

_SPEC = os.environ.get("TACTFUL_RECORD_SPEC")
_targets: dict = {}
_seen: dict = {}
_out = ""
_limit = 0


def _record(frame):
    key = (frame.f_code.co_filename, frame.f_code.co_firstlineno, frame.f_code.co_name)
    target = _targets.get(key)
    if target is None or len(_seen[target]) >= _limit:
        return
    code = frame.f_code
    count = code.co_argcount + code.co_kwonlyargcount
    names = code.co_varnames[:count]
    values = frame.f_locals
    call = {"params": {name: values[name] for name in names if name in values}}
    extra = count
    if code.co_flags & inspect.CO_VARARGS:
        call["varargs"] = tuple(values.get(code.co_varnames[extra], ()))
        extra += 1
    if code.co_flags & inspect.CO_VARKEYWORDS:
        call["varkw"] = dict(values.get(code.co_varnames[extra], {}))
    try:
        blob = pickle.dumps(call, protocol=4)
    except Exception:
        return
    digest = hashlib.sha256(blob).hexdigest()
    if digest in _seen[target]:
        return
    _seen[target].add(digest)
    with open(os.path.join(_out, f"{target}-{len(_seen[target]):04d}.pkl"), "wb") as handle:
        handle.write(blob)


def _profile(frame, event, arg):
    if event == "call":
        try:
            _record(frame)
        except Exception:  # bookkeeping never breaks a test
            return


def _start():
    global _out, _limit
    with open(_SPEC, encoding="utf-8") as handle:
        spec = json.load(handle)
    _out = spec["out"]
    _limit = int(spec.get("limit", 50))
    for target in spec["targets"]:
        key = (os.path.abspath(target["file"]), int(target["line"]), target["name"])
        _targets[key] = target["id"]
        _seen[target["id"]] = set()
    sys.setprofile(_profile)
    threading.setprofile(_profile)


if _SPEC:
    _start()
