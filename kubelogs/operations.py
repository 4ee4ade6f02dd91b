"""pyinfra operations the deploy needs and pyinfra does not ship in the form it needs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyinfra import host
from pyinfra.api import FunctionCommand, OperationError, QuoteString, StringCommand, operation

from kubelogs.facts import NumericPathStat


@operation()
def numeric_directory(path: str, uid: int, gid: int, mode: int):
    """Ensure a directory exists with a numeric owner, group and mode; never removes or empties it.

    + path: absolute path of the directory
    + uid: numeric owner (need not exist in /etc/passwd)
    + gid: numeric group (need not exist in /etc/group)
    + mode: permission bits, e.g. ``0o750``

    pyinfra's ``files.directory`` compares owner names, so a uid without a passwd entry (stat prints
    UNKNOWN) is chown'ed again on every run; this compares numbers. Only the directory itself is
    changed, never its contents (no recursive chown of Elasticsearch data).
    """
    current = host.get_fact(NumericPathStat, path=path)
    quoted = QuoteString(path)
    if current is None:
        yield StringCommand("mkdir -p", quoted)
    elif current["type"] != "directory":
        raise OperationError(f"{path} exists but is a {current['type']}, not a directory; move it away")

    if current is None or (current["uid"], current["gid"]) != (uid, gid):
        yield StringCommand("chown", f"{uid}:{gid}", quoted)
    if current is None or current["mode"] != mode:
        yield StringCommand("chmod", f"{mode:o}", quoted)
    if current is not None and (current["uid"], current["gid"], current["mode"]) == (uid, gid, mode):
        host.noop(f"directory {path} is {uid}:{gid} {mode:o}")


@operation(is_idempotent=False, _set_in_op=False)
def run_after_node_stage(function: Callable | None = None, **kwargs: Any):
    """Run ``function(state, host, **kwargs)`` at execution time; without a function, change nothing.

    + function: the callback; its return value is the operation's status (False fails it)

    deploy.py calls this for every host from one place after the node stage, so pyinfra orders it
    after each node's operations (it orders operations per host, not by line across hosts). Only the
    control host passes a function.
    """
    if function is not None:
        yield FunctionCommand(function, (), kwargs)


@operation()
def sysctl_live(key: str, value: int, live: int | None):
    """Set a kernel setting now, given the value the caller read with the Sysctl fact.

    + key: e.g. ``vm.max_map_count``
    + value: the value to set
    + live: the current value (the caller needs it anyway; reading it here again costs a round trip)
    """
    if live == value:
        host.noop(f"sysctl {key} is {value}")
        return
    yield StringCommand("sysctl", StringCommand(QuoteString(key), "=", QuoteString(str(value)), _separator=""))
