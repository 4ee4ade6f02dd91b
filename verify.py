"""The verify stage alone: pyinfra <inventory> verify.py (it reads each node's state too, changing nothing:
its dead letters; `--limit control_host` skips the nodes, and with them that check)."""

from pyinfra import state

from kubelogs.preflight import this_run
from tasks.verify import verify_logs

verify_logs(this_run(state))
