"""The layout shows the architecture: no import cycle, no import that runs upward, tasks/ holds only the
stages' @deploy functions, and no state is kept in module globals between hosts (the one per-run object
is made in kubelogs.preflight). Every file is read with ``ast``: nothing is imported."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENTRY_POINTS = ("deploy", "verify", "config")
OURS = ("kubelogs", "tasks", *ENTRY_POINTS)  # top-level names of the project's own modules

# Lowest first; a module imports only its own layer or lower ones. "x.*" is package x and all below it.
LAYERS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("base", ("kubelogs", "kubelogs.errors", "kubelogs.settings", "kubelogs.settings_reference",
              "kubelogs.compatibility", "kubelogs.polling"),
     "what every part reads: errors, the settings model and its reference, the compatibility table, waiting"),
    ("parts", ("kubelogs.inventory.*", "kubelogs.manifests.*", "kubelogs.node.*"),
     "the parts that need no stage: reading the inventory, rendering and checking objects, the node stage"),
    ("cluster", ("kubelogs.cluster.*",),
     "the cluster stage: applies the rendered, checked objects (NodeTarget: the labels nodes get is its own)"),
    ("verify", ("kubelogs.verify.*",),
     "the verify stage: uses the cluster stage's API client, its in-cluster tasks and rollout checks"),
    ("run", ("kubelogs.preflight",),
     "the one object per run: the inventory's validated settings and the nodes' state, for every stage"),
    ("tasks", ("tasks.*",),
     "pyinfra's @deploy functions: each stage, given the run"),
    ("entry points", ENTRY_POINTS,
     "what pyinfra runs (config.py first): the run, and the stages each host takes part in"),
)

# Module-level values that are containers one can change: state shared by every host of a run (and by the
# runs of one process), which the per-run object in kubelogs.preflight is for.
MUTABLE_LITERALS = (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp)
MUTABLE_FACTORIES = frozenset({"list", "dict", "set", "bytearray", "defaultdict", "OrderedDict", "Counter", "deque",
                               "Event", "WeakKeyDictionary", "WeakValueDictionary", "WeakSet"})
NO_MODULE_STATE = ("tasks", "kubelogs/node")  # folders whose modules keep nothing between calls


def module_files() -> dict[str, Path]:
    """Module name -> file, for kubelogs/, tasks/ and the entry points."""
    files = [ROOT / f"{name}.py" for name in ENTRY_POINTS]
    for package in ("kubelogs", "tasks"):
        files += sorted((ROOT / package).rglob("*.py"))
    modules = {}
    for path in files:
        parts = path.relative_to(ROOT).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


MODULES = module_files()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _nodes_run(node: ast.AST) -> Iterator[ast.AST]:
    """Every node below ``node``, less the bodies of ``if TYPE_CHECKING:`` (imports for type hints only)."""
    for child in ast.iter_child_nodes(node):
        yield child
        if isinstance(child, ast.If) and _is_type_checking(child):
            for other in child.orelse:
                yield other
                yield from _nodes_run(other)
        else:
            yield from _nodes_run(child)


def imports_of(module: str) -> set[str]:
    """The project modules ``module`` imports when it runs (``from a.b import c``: a.b.c if it is a module)."""
    path = MODULES[module]
    found = set()
    for node in _nodes_run(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
                package = package[:len(package) - (node.level - 1)]
                base = ".".join(package + ([node.module] if node.module else []))
            found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names}
    return {name for name in found if name.split(".")[0] in OURS}


IMPORTS = {module: imports_of(module) for module in MODULES}


def layer_of(module: str) -> int | None:
    for index, (_, patterns, _) in enumerate(LAYERS):
        for pattern in patterns:
            if module == pattern.removesuffix(".*") or (pattern.endswith(".*") and module.startswith(pattern[:-1])):
                return index
    return None


def cycles() -> list[list[str]]:
    """One cycle through each import cycle there is (depth-first: each back edge closes one)."""
    found, done, stack = [], set(), []

    def visit(module: str) -> None:
        stack.append(module)
        for target in sorted(IMPORTS.get(module, ())):
            if target in stack:
                found.append(stack[stack.index(target):] + [target])
            elif target not in done:
                visit(target)
        stack.pop()
        done.add(module)

    for module in sorted(MODULES):
        if module not in done:
            visit(module)
    return found


def test_every_import_names_a_module_of_the_project():
    missing = [f"{m} imports {t}" for m in sorted(IMPORTS) for t in sorted(IMPORTS[m]) if t not in MODULES]
    assert not missing, "no such module (moved?):\n" + "\n".join(missing)


def test_no_import_cycle():
    found = cycles()
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in found)


def test_every_module_has_a_layer():
    loose = [m for m in sorted(MODULES) if layer_of(m) is None]
    assert not loose, f"put these in a layer (LAYERS in {Path(__file__).name}): {loose}"


def test_no_import_runs_upward():
    upward = []
    for module, targets in sorted(IMPORTS.items()):
        for target in sorted(targets):
            here, there = layer_of(module), layer_of(target)
            if here is not None and there is not None and there > here:
                upward.append(f"{module} ({LAYERS[here][0]}) imports {target} ({LAYERS[there][0]})")
    assert not upward, "imports that run upward:\n" + "\n".join(upward)


def test_kubelogs_imports_neither_tasks_nor_entry_points_and_tasks_import_no_other_task():
    wrong = [f"{m} imports {t}" for m, targets in sorted(IMPORTS.items()) for t in sorted(targets)
             if (m.split(".")[0] == "kubelogs" and t.split(".")[0] != "kubelogs")
             or (m.startswith("tasks.") and t.startswith("tasks") and t != m)]
    assert not wrong, "\n".join(wrong)


def _decorator_names(function: ast.FunctionDef) -> set[str]:
    names = set()
    for decorator in function.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        names.add(target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", ""))
    return names


def test_tasks_hold_only_deploys_and_their_callbacks():
    # Public: a @deploy, or an @operation a @deploy there needs; private: the (state, host) callbacks.
    extra = []
    for module, path in sorted(MODULES.items()):
        if not module.startswith("tasks."):
            continue
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef):
                extra.append(f"{module}.{node.name} (a class)")
            elif isinstance(node, ast.FunctionDef) and not node.name.startswith("_") \
                    and not _decorator_names(node) & {"deploy", "operation"}:
                extra.append(f"{module}.{node.name}")
    assert not extra, "belongs in kubelogs/, not tasks/: " + ", ".join(extra)


def _module_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements a module runs at import, blocks (if, try, with) included, function bodies not."""
    for node in body:
        yield node
        for field in ("body", "orelse", "finalbody", "handlers"):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                yield from _module_level(getattr(node, field, []))


def _is_mutable(value: ast.expr | None) -> bool:
    if isinstance(value, MUTABLE_LITERALS):
        return True
    if isinstance(value, ast.Call):
        func = value.func
        return (func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")) in MUTABLE_FACTORIES
    return False


def test_no_module_level_mutable_state_in_tasks_or_the_node_stage():
    found = []
    for module, path in sorted(MODULES.items()):
        if not str(path.relative_to(ROOT)).startswith(NO_MODULE_STATE):
            continue
        tree = ast.parse(path.read_text())
        found += [f"{module}: global {', '.join(n.names)}" for n in ast.walk(tree) if isinstance(n, ast.Global)]
        for node in _module_level(tree.body):
            if isinstance(node, ast.Assign):
                targets, value = node.targets, node.value
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
                targets, value = [node.target], node.value
            else:
                continue
            names = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
            constant = all(name.lstrip("_").isupper() for name in names)
            if not constant or _is_mutable(value) or isinstance(node, ast.AugAssign):
                found.append(f"{module}:{node.lineno}: {', '.join(names)}")
    assert not found, ("module-level state (keep per-run state in kubelogs.preflight's Run, constants as "
                       "UPPER_CASE tuples or frozensets):\n" + "\n".join(found))
