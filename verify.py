"""The verify stage alone: pyinfra <inventory> verify.py --limit control_host"""

from pyinfra import state

from kubelogs.preflight import run_settings
from tasks.verify import verify_logs

verify_logs(run_settings(state))
