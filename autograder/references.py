"""The instructor's versions of helpers, shipped into the sandbox as code for one test (``use_reference``).

A test of ``conv2d`` that calls ``use_reference("conv_output_size", "im2col")`` must not depend on
the student's ``conv_output_size`` or ``im2col``: while it runs, those names in the student's
namespace are bound to the definitions from the source notebook's solution cells.  This module
finds those definitions and the solution names they use in turn, and writes them out as one block
of Python source that the sandbox executes in a private namespace (numpy as ``np``; ``nnkit`` is
never needed or available there).
"""
from __future__ import annotations

import ast
import builtins
from functools import lru_cache

from .checks import AuthoringError
from .notebook import Cell
from .staticcheck import parse

PROVIDED = {"np", "numpy", "math"}   # what the private namespace holds before the code runs


def _bound_names(node: ast.stmt) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    targets = node.targets if isinstance(node, ast.Assign) else [node.target] \
        if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else []
    names = []
    for target in targets:
        for sub in ast.walk(target):
            if isinstance(sub, ast.Name):
                names.append(sub.id)
    return names


def _used_names(node: ast.stmt) -> set[str]:
    return {sub.id for sub in ast.walk(node) if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load)}


def solution_definitions(cells: list[Cell]) -> tuple[dict[str, tuple[int, str, ast.stmt]], list[str]]:
    """name -> (order, source, node) of its last top-level definition in the instructor's code; and the imports.

    The instructor's code is the solution cells and the locked code cells (given helpers a solution may
    call); a locked cell that is not plain Python (a magic) is skipped.
    """
    defs: dict[str, tuple[int, str, ast.stmt]] = {}
    imports: list[str] = []
    order = 0
    for cell in cells:
        if not cell.is_code or cell.role not in ("answer", "locked"):
            continue
        try:
            tree = parse(cell.source)
        except SyntaxError as exc:
            if cell.role == "locked":
                continue
            raise AuthoringError(f"solution cell '{cell.key}' is not valid Python: {exc}") from exc
        for node in tree.body:
            order += 1
            text = ast.get_source_segment(cell.source, node) or ""
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                if text not in imports:
                    imports.append(text)
                continue
            for name in _bound_names(node):
                defs[name] = (order, text, node)
    return defs, imports


def reference_code(cells: list[Cell], names: list[str]) -> str:
    """Source that defines ``names`` as the solution does, with every solution name they rely on."""
    if not names:
        return ""
    instructor_code = tuple((c.key, c.role, c.source) for c in cells
                            if c.is_code and c.role in ("answer", "locked"))
    return _reference_code(instructor_code, tuple(names))


@lru_cache(maxsize=256)   # each test is traced once per student: parse the notebook once per batch
def _reference_code(instructor_code: tuple, names: tuple) -> str:
    cells = [Cell(i, "code", source, key, role) for i, (key, role, source) in enumerate(instructor_code)]
    defs, imports = solution_definitions(cells)
    missing = [n for n in names if n not in defs]
    if missing:
        raise AuthoringError(f"use_reference: {', '.join(missing)} not defined at the top level of any solution "
                             "or locked cell")
    needed, queue = set(), list(names)
    while queue:
        name = queue.pop()
        if name in needed:
            continue
        needed.add(name)
        queue.extend(n for n in _globals_used(defs[name][2]) if n in defs and n not in needed)
    used = set().union(*(_globals_used(defs[n][2]) for n in needed))
    imports = [imp for imp in imports if _imported_names(imp) & used]   # matplotlib only if a reference plots
    known = set(defs) | PROVIDED | set(dir(builtins))
    for imp in imports:
        known |= _imported_names(imp)
    for name in sorted(needed):
        unknown = sorted(n for n in _globals_used(defs[name][2]) - known)
        if unknown:
            raise AuthoringError(f"use_reference: the solution's `{name}` uses {', '.join(unknown)}, "
                                 "which no solution or locked cell defines")
    blocks = sorted({defs[n][:2] for n in needed})
    return "\n\n".join(imports + [text for _, text in blocks]) + "\n"


def _globals_used(node: ast.stmt) -> set[str]:
    """The global names a definition reads: a function's (or class's) own arguments and locals are not."""
    own = _locals(node) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else set()
    return _used_names(node) - own


def _imported_names(statement: str) -> set[str]:
    return {a.asname or a.name.split(".")[0] for node in parse(statement).body for a in node.names}


def _locals(node: ast.stmt) -> set[str]:
    """Names a definition binds inside itself (arguments, assignments, comprehension variables)."""
    found = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.arg):
            found.add(sub.arg)
        elif isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
            found.add(sub.id)
        elif isinstance(sub, (ast.FunctionDef, ast.ClassDef)):
            found.add(sub.name)
        elif isinstance(sub, (ast.Import, ast.ImportFrom)):
            found |= {a.asname or a.name.split(".")[0] for a in sub.names}
        elif isinstance(sub, ast.ExceptHandler) and sub.name:
            found.add(sub.name)
    return found
