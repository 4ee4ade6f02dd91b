"""The error type for a user's mistake: pyinfra prints its message alone, without traceback or location."""

from pyinfra.api.exceptions import PyinfraError
from pyinfra_cli.exceptions import CliError


class UserError(CliError, PyinfraError):
    """Bad settings or inventory. CliError: printed as "--> pyinfra error: <message>";
    PyinfraError: passed through as-is when raised inside a deploy or inventory file."""
