"""Reading the student's code without running it: where names are defined, and what looks like tampering.

Flags are for a human to look at; they never change a score by themselves (the sandbox and the
out-of-kernel judging already make these attacks harmless).  The one rule that does affect the
score -- answers may not use nnkit -- is applied per test, through :func:`definitions`.
"""
from __future__ import annotations

import ast
import re
import threading
from functools import lru_cache

_AST_LOCK = threading.Lock()


@lru_cache(maxsize=4096)
def parse(source: str) -> ast.Module:
    """``ast.parse`` one thread at a time: on CPython 3.11 two threads building ASTs at once can fail with
    "SystemError: AST constructor recursion depth mismatch" (cpython gh-106905), and the grader parses
    cells in its worker threads.  Cached: a batch parses the same source cells for every submission (callers
    only read the tree).  A syntax error is raised again each time (lru_cache does not keep exceptions)."""
    with _AST_LOCK:
        return ast.parse(source)

# (pattern in the source, what a reviewer should know)
SUSPICIOUS_SOURCE = [
    (r"\bget_ipython\s*\(|\bIPython\b|\binput_transformers|\bset_custom_exc\b|\bast_transformers\b",
     "tampers with IPython (input transformers, exception handlers, the shell)"),
    (r"\bsys\.modules\b", "touches sys.modules"),
    (r"\bbuiltins\b|__builtins__", "touches Python's builtins"),
    (r"\bnp\.(testing|allclose|isclose|array_equal|all|any)\s*=|\bnumpy\.(testing|allclose|isclose|array_equal)\s*=|"
     r"setattr\(\s*(np|numpy)\b", "monkey-patches numpy"),
    (r"\bclass\s+\w+\s*\(\s*(np|numpy)\.ndarray\s*\)", "subclasses numpy.ndarray"),
    (r"__eq__|__array_ufunc__|__array_function__", "overrides comparisons or numpy's dispatch"),
    (r"%%writefile|open\([^)]*['\"]\w+\.py['\"]\s*,\s*['\"][wa]", "writes a Python module (could shadow numpy or the tests)"),
    (r"\bos\.environ\b|\bgetenv\b", "reads environment variables"),
    (r"\bos\.(listdir|scandir|walk)\b|\bglob\b|\bpathlib\b|\.\./|open\(\s*['\"]/",
     "lists or opens files outside its own folder"),
    (r"\bsubprocess\b|\bos\.system\b|\bos\.popen\b|^\s*!", "runs shell commands"),
    (r"\bsocket\b|\burllib\b|\brequests\b|\bhttp\.client\b", "tries to use the network"),
    (r"\bctypes\b|\bcffi\b", "loads native code"),
    (r"\bos\._exit\b|\bsys\.exit\b|\bos\.kill\b|\bsignal\.", "exits or signals the process"),
    (r"\bos\.fork\b|\bmultiprocessing\b|\bthreading\b", "starts processes or threads"),
    (r"gradebook|\.db\b|sqlite", "looks for the gradebook"),
    (r"\bnnkit\b", "uses nnkit (answers must be written in numpy)"),
]


def flags_for(source: str) -> list[str]:
    """Human-readable reasons this cell deserves a look, in a stable order."""
    found = []
    for pattern, reason in SUSPICIOUS_SOURCE:
        if re.search(pattern, source, re.M) and reason not in found:
            found.append(reason)
    return found


def uses_nnkit(source: str) -> bool:
    """True if the code imports or names nnkit; comments and strings that mention it don't count."""
    try:
        tree = parse(_without_magics(source))
    except SyntaxError:
        return re.search(r"^\s*(import|from)\s+nnkit\b", source, re.M) is not None
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "nnkit" for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "nnkit":
            return True
        if isinstance(node, ast.Name) and node.id == "nnkit":
            return True
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and re.fullmatch(r"nnkit(\.\w+)*", node.value):
            return True  # importlib.import_module("nnkit...")
    return False


def _without_magics(source: str) -> str:
    return "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))


def definitions(source: str) -> set[str]:
    """Top-level names a cell binds (def, class, assignment, import).  Unparsable cells bind nothing."""
    try:
        tree = parse(source)
    except SyntaxError:
        try:  # IPython magics aren't Python; drop magic lines and try once more
            tree = parse(_without_magics(source))
        except SyntaxError:
            return set()
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        names.add(n.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names.add((alias.asname or alias.name).split(".")[0])
    return names
