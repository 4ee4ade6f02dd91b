"""pyinfra operations the node stage needs and pyinfra does not ship in an idempotent form."""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import OperationError, QuoteString, StringCommand, operation

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
