"""The course site built once per test session (scripts/build_site.py, every lecture executed), for tests/test_site.py,
the browser tests and the student kit's tests: each has a session-scoped fixture that calls `built_site`, which builds
on the first call and returns the same folder afterwards."""
from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_BUILT: dict[str, "Site"] = {}


@dataclass(frozen=True)
class Site:
    html: Path      # the site (index.html, lectures/, assignments/, docs/, _static/ ...)
    log: str        # what sphinx-build printed
    seconds: float  # how long the build took


def build_script():
    spec = importlib.util.spec_from_file_location("build_site", ROOT / "scripts" / "build_site.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def built_site(tmp_path_factory) -> Site:
    """The site built into a scratch folder, executing the lectures (a cell's error or any warning fails it)."""
    if "site" not in _BUILT:
        out = tmp_path_factory.mktemp("site") / "site"
        started = time.monotonic()
        result = build_script().build(out, execute=True, capture=True)
        log = result.stdout + result.stderr
        assert result.returncode == 0, f"building the site failed:\n{log[-20000:]}"
        _BUILT["site"] = Site(out, log, time.monotonic() - started)
        print(f"site built in {_BUILT['site'].seconds:.0f} s into {out}")
    return _BUILT["site"]
