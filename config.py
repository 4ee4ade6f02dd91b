"""pyinfra configuration of this repository; pyinfra loads it (from the working directory) first."""

from pyinfra import config

from kubelogs.preflight import install

config.REQUIRE_PYINFRA_VERSION = ">=3.10,<3.11"

# Validate the settings against the whole inventory before any host is contacted.
install()
