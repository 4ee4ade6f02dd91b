"""The one object a pyinfra run's stages share (``Run``), and the preflight that validates its settings
before pyinfra contacts any host.

pyinfra 3 loads ``config.py`` before the inventory and connects right after ``State.init``; it has no
hook in between (callbacks registered earlier are reset by ``init``). So ``config.py`` calls
``install()``, which wraps ``init`` on this run's state: the full inventory (with group data and
``--data``) is validated first, and a bad setting stops the run with a clear message, before any
connection. ``deploy.py`` (and ``verify.py``) then get the run with ``this_run(state)`` and hand it to
each stage.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pyinfra.context import ctx_state

from kubelogs.errors import UserError
from kubelogs.inventory import settings_from_inventory
from kubelogs.node.state import NodeStates
from kubelogs.settings import Settings, SettingsError

if TYPE_CHECKING:
    from pyinfra.api.inventory import Inventory
    from pyinfra.api.state import State


@dataclass
class Run:
    """What the stages of one pyinfra run share: the validated settings, and what the node stage read."""

    settings: Settings
    nodes: NodeStates = field(default_factory=NodeStates)


# The deploy's one per-run cache. pyinfra runs deploy.py once per host (greenlets in one process), so an
# object made there would be per host; one Run per inventory (one inventory per run) is made here instead,
# and deploy.py passes it explicitly to each stage. Weak keys: a finished run's inventory takes its Run along.
_runs: weakref.WeakKeyDictionary[Inventory, Run] = weakref.WeakKeyDictionary()


def validate(inventory: Inventory) -> Settings:
    """The inventory's settings, validated once per run (a bad setting raises ``UserError``)."""
    if inventory not in _runs:
        try:
            _runs[inventory] = Run(settings_from_inventory(inventory))
        except SettingsError as e:
            raise UserError(str(e)) from None
    return _runs[inventory].settings


def install() -> None:
    """Make this run's ``State.init`` validate the settings first (called from config.py)."""
    state: State = ctx_state.get()
    original_init = state.init

    def init_after_validation(inventory: Inventory, *args: object, **kwargs: object) -> None:
        validate(inventory)
        original_init(inventory, *args, **kwargs)

    state.init = init_after_validation  # type: ignore[method-assign]


def this_run(state: State) -> Run:
    """This run (its settings validated already by the preflight, or now if config.py was not loaded)."""
    validate(state.inventory)
    return _runs[state.inventory]
