"""nnkit's modules import each other in one direction only, and each imports on its own.

A cycle (``autograd`` importing ``plot`` importing ``autograd``) works only as long as every import in
it stays inside a function, and breaks, with a half-initialized module, the day one of them moves to
the top.  The graph below is read from the source with ``ast``, function-level imports included.
"""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "nnkit"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
PACKAGES = {name for name, p in MODULES.items() if p.name == "__init__.py"}


def resolve(importer: str, node: ast.AST) -> list[str]:
    """The nnkit modules an ``import``/``from ... import`` statement of ``importer`` loads."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "nnkit"]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        base = importer if importer in PACKAGES else importer.rsplit(".", 1)[0]
        for _ in range(node.level - 1):
            base = base.rsplit(".", 1)[0]
        base = f"{base}.{node.module}" if node.module else base
    else:
        base = node.module or ""
    if base.split(".")[0] != "nnkit":
        return []
    # ``from nnkit import functional`` loads the submodule; ``from .module import Module`` a name in it
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]


def ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def import_graph() -> dict[str, set[str]]:
    """module -> the nnkit modules it imports, anywhere in its body.

    Importing ``a.b.c`` also runs ``a/__init__`` and ``a/b/__init__``; those packages count as imported
    too, except the importer's own ancestors (its package is already being imported when it runs).
    """
    graph = {}
    for name, path in MODULES.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            for target in resolve(name, node):
                assert target in MODULES, f"{name} imports {target}, which is not an nnkit module"
                own = set(ancestors(name))
                targets.add(target)
                targets.update(a for a in ancestors(target) if a not in own)
        targets.discard(name)
        graph[name] = targets
    return graph


def find_cycle(graph):
    """One cycle as a list of modules, or None (depth-first search with three colors)."""
    color = dict.fromkeys(graph, 0)           # 0 unvisited, 1 on the current path, 2 done
    path = []

    def visit(node):
        color[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if color[nxt] == 1:
                return path[path.index(nxt):] + [nxt]
            if color[nxt] == 0:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        color[node] = 2
        return None

    for start in sorted(graph):
        if color[start] == 0:
            found = visit(start)
            if found:
                return found
    return None


def test_the_graph_reader_sees_the_imports_it_should():
    graph = import_graph()
    assert "nnkit.nn.parameter" in graph["nnkit.nn.module"]          # from .parameter import Parameter
    assert "nnkit.init" in graph["nnkit.nn.conv"]                    # from .. import init
    assert {"nnkit.functional", "nnkit.nn", "nnkit.obd"} <= graph["nnkit"]
    assert "nnkit.train" in graph["nnkit.obd"]                        # imported inside a function
    assert "nnkit.plot" in graph["nnkit.autograd"]                    # imported inside draw_graph
    assert "nnkit.nn" in graph["nnkit.optim.optimizer"]               # a subpackage's __init__ runs too
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_cycle_among_nnkit_modules():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_plot_does_not_import_autograd():
    assert "nnkit.autograd" not in import_graph()["nnkit.plot"]


FRESH_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin"}


def run_fresh(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=FRESH_ENV, capture_output=True, text=True,
                          timeout=300)


def test_each_module_imports_alone_in_a_fresh_interpreter():
    # One interpreter per module, four at a time (the machine is shared; each mostly waits on imports).
    failures, names = {}, list(MODULES)
    for i in range(0, len(names), 4):
        procs = {name: subprocess.Popen([sys.executable, "-c", f"import {name}"], cwd=ROOT, env=FRESH_ENV,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for name in names[i:i + 4]}
        for name, proc in procs.items():
            _, err = proc.communicate(timeout=300)
            if proc.returncode:
                failures[name] = err.strip().splitlines()[-1]
    assert not failures, failures


@pytest.mark.parametrize("heavy", ["matplotlib", "tqdm", "sklearn", "torch"])
def test_import_nnkit_leaves_the_optional_heavy_modules_alone(heavy):
    # nnkit/__init__ promises that nnkit.data, nnkit.train and nnkit.plot are imported on demand
    result = run_fresh(f"import sys, nnkit; import nnkit.obd, nnkit.autograd; print({heavy!r} in sys.modules)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
