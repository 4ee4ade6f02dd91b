"""pyinfra operations the node stage needs and pyinfra does not ship in the form it needs.

The operations take the node's state as the caller read it (``kubelogs.node.facts.NodeState``, one
round trip for the whole node) instead of reading facts themselves, and yield at most one command:
on a node that is already right they yield nothing (``host.noop``), so a re-run costs no round trip
beyond the one fact.
"""

from __future__ import annotations

import hashlib
import shlex
from collections.abc import Mapping

from pyinfra import host, logger
from pyinfra.api import FunctionCommand, StringCommand, operation
from pyinfra.api.host import Host
from pyinfra.api.state import State


def _one_line_on_failure(script: str, what: str, cleanup: str = "") -> StringCommand:
    """``script`` as one command that stops at its first error and then prints one line: what could not
    be done and the system's reason (``Read-only file system``, ``No space left on device``...), the
    part of the error message after its last ": "."""
    return StringCommand(
        f"err=$( ( set -e; {script} ) 2>&1 ) || "
        f"{{ {cleanup + ' 2>/dev/null; ' if cleanup else ''}"
        f'echo {shlex.quote(f"kubelogs: cannot {what}: ")}"${{err##*: }}" >&2; exit 1; }}'
    )


@operation()
def numeric_directories(paths: list[str], uid: int, gid: int, mode: int, current: Mapping[str, dict | None]):
    """Ensure directories exist with a numeric owner, group and mode; never removes or empties them.

    + paths: absolute paths of the directories
    + uid: numeric owner (need not exist in /etc/passwd)
    + gid: numeric group (need not exist in /etc/group)
    + mode: permission bits, e.g. ``0o750``
    + current: ``NodeState``'s ``paths``: each path's type, uid, gid and mode, or None when missing

    The caller has checked that no path exists as something other than a directory. pyinfra's
    ``files.directory`` compares owner names, so a uid without a passwd entry (stat prints UNKNOWN)
    is chown'ed again on every run; this compares numbers. Only the directories themselves are
    changed, never their contents (no recursive chown of Elasticsearch data). All fixes are one
    command.
    """
    steps = []
    for path in paths:
        stat = current.get(path)
        quoted = shlex.quote(path)
        if stat is None:
            steps.append(f"mkdir -p {quoted}")
        if stat is None or (stat["uid"], stat["gid"]) != (uid, gid):
            steps.append(f"chown {uid}:{gid} {quoted}")
        if stat is None or stat["mode"] != mode:
            steps.append(f"chmod {mode:o} {quoted}")
    if not steps:
        host.noop(f"{', '.join(paths)}: {uid}:{gid} {mode:o}")
        return
    yield _one_line_on_failure("; ".join(steps), f"prepare {', '.join(paths)}")


@operation()
def sysctl_live(key: str, value: int, live: int | None):
    """Set a kernel setting now by writing /proc/sys (no ``sysctl`` binary needed).

    + key: e.g. ``vm.max_map_count``
    + value: the value to set
    + live: the current value, as the caller read it (None: unreadable)
    """
    if live == value:
        host.noop(f"sysctl {key} is {value}")
        return
    proc = "/proc/sys/" + key.replace(".", "/")
    yield _one_line_on_failure(f"echo {int(value)} > {shlex.quote(proc)}", f"set {key} to {value}")


def sha1(content: str) -> str:
    return hashlib.sha1(content.encode()).hexdigest()


@operation()
def root_file(path: str, content: str, current: dict | None, mode: int = 0o644):
    """Ensure a file owned by root:root has exactly ``content``, written with one command when it differs.

    + path: absolute path of the file (its directory is created if missing)
    + content: the whole content
    + current: the file's type, uid, gid, mode and ``sha1`` as the caller read it, or None when missing
    + mode: permission bits

    The file is written to a temporary name beside it, then renamed over it: never half written.
    """
    if current is not None and (current.get("sha1"), current["uid"], current["gid"], current["mode"]) == (
            sha1(content), 0, 0, mode):
        host.noop(f"{path} is up to date")
        return
    directory, tmp, quoted = shlex.quote(path.rsplit("/", 1)[0] or "/"), shlex.quote(path + ".kubelogs-tmp"), \
        shlex.quote(path)
    script = (f"mkdir -p {directory}; printf %s {shlex.quote(content)} | cat > {tmp}; "
              f"chown 0:0 {tmp}; chmod {mode:o} {tmp}; mv -f {tmp} {quoted}")
    yield _one_line_on_failure(script, f"write {path}", cleanup=f"rm -f {tmp}")


def _fail(state: State, host: Host, message: str) -> bool:
    host.log_styled(message, fg="red", log_func=logger.error)
    return False


@operation(is_idempotent=False, _set_in_op=False)
def fail_host(message: str):
    """Fail this host with one line, ``message``, and no traceback; the other hosts go on.

    + message: why, and what to do about it

    Raising an exception in deploy code or in an operation prints a traceback (pyinfra reports it as
    unexpected); a function command that returns False is an ordinary operation failure. Runs no
    command on the host.
    """
    yield FunctionCommand(_fail, (message,), {})
