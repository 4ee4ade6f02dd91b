"""The control machine runs locally: no SSH user or sudo for it."""

_sudo = False
