"""Validate the settings before pyinfra contacts any host.

pyinfra 3 loads ``config.py`` before the inventory and connects right after ``State.init``; it has no
hook in between (callbacks registered earlier are reset by ``init``). So ``config.py`` calls
``install()``, which wraps ``init`` on this run's state: the full inventory (with group data and
``--data``) is validated first, and a bad setting stops the run with a clear message, before any
connection. ``deploy.py`` then reads the validated settings with ``run_settings()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyinfra.context import ctx_state

from kubelogs.errors import UserError
from kubelogs.inventory import settings_from_inventory
from kubelogs.settings import Settings, SettingsError

if TYPE_CHECKING:
    from pyinfra.api.inventory import Inventory
    from pyinfra.api.state import State


_validated: dict[int, Settings] = {}  # id(inventory) -> settings


def validate(inventory: Inventory) -> Settings:
    key = id(inventory)
    if key not in _validated:
        try:
            _validated[key] = settings_from_inventory(inventory)
        except SettingsError as e:
            raise UserError(str(e)) from None
    return _validated[key]


def install() -> None:
    """Make this run's ``State.init`` validate the settings first (called from config.py)."""
    state: State = ctx_state.get()
    original_init = state.init

    def init_after_validation(inventory: Inventory, *args: object, **kwargs: object) -> None:
        validate(inventory)
        original_init(inventory, *args, **kwargs)

    state.init = init_after_validation  # type: ignore[method-assign]


def run_settings(state: State) -> Settings:
    """The settings of this run (validated already by the preflight, or now if config.py was not loaded)."""
    return validate(state.inventory)
