"""Fixtures for the browser tests: Debian's chromium driven by Playwright, and a JupyterLab server on a scratch copy.

Playwright's own browser download is not used (it is not reachable on the course machines): the browser is the
system chromium that scripts/install-system-deps.sh installs, launched with `executable_path`.  Without it every
test here is skipped with the reason.  See README.md beside this file for how to use the fixtures.

pytest-playwright's browser fixtures are overridden with *package* scope (this folder has an __init__.py): the
Playwright instance is stopped after the last browser test, before the rest of the suite runs.  A live
sync Playwright leaves its asyncio loop marked as running in the main thread, and asyncio.run() then fails.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = Path(__file__).resolve().parent / "output"   # git-ignored: screenshots and server logs, one folder per test
CHROMIUM_NAMES = ("chromium", "chromium-browser")
VIEWPORT = {"width": 1400, "height": 900}
IS_ROOT = hasattr(os, "getuid") and os.getuid() == 0


# --------------------------------------------------------------------------------------------
# The browser
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def chromium_path() -> str:
    """The system chromium (or $CHROMIUM_PATH); skips the test with the reason when there is none."""
    candidates = [os.environ.get("CHROMIUM_PATH", "")] + [shutil.which(name) or "" for name in CHROMIUM_NAMES]
    for path in candidates:
        if path and os.access(path, os.X_OK):
            return path
    reason = ("chromium not installed: run scripts/install-system-deps.sh (as root it installs Debian's chromium), "
              "or set CHROMIUM_PATH; the browser tests are skipped")
    print(reason)
    pytest.skip(reason)


@pytest.fixture(scope="package")
def playwright(chromium_path):
    """Overrides pytest-playwright's session-scoped fixture: stopped when the browser tests are done."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="package")
def browser_type(playwright, browser_name):
    if browser_name != "chromium":
        pytest.skip(f"the browser tests drive the system chromium only, not {browser_name}")
    return playwright.chromium


@pytest.fixture(scope="package")
def browser_type_launch_args(pytestconfig, chromium_path) -> dict:
    """Headless (unless --headed) system chromium; --no-sandbox as root, where chromium's sandbox refuses to run."""
    args = {"executable_path": chromium_path, "headless": not pytestconfig.getoption("--headed"), "args": []}
    if IS_ROOT:
        args["args"].append("--no-sandbox")
    if pytestconfig.getoption("--slowmo"):
        args["slow_mo"] = pytestconfig.getoption("--slowmo")
    return args


@pytest.fixture(scope="package")
def launch_browser(browser_type_launch_args, browser_type):
    def launch(**kwargs):
        return browser_type.launch(**{**browser_type_launch_args, **kwargs})
    return launch


@pytest.fixture(scope="package")
def browser(launch_browser):
    browser = launch_browser()
    yield browser
    browser.close()


@pytest.fixture(scope="package")
def browser_context_args() -> dict:
    """A fixed window size, so that screenshots compare across runs (pytest-playwright's --device and --video
    are not supported here)."""
    return {"viewport": dict(VIEWPORT)}


@pytest.fixture
def console_errors(page) -> list[str]:
    """Errors the page logs to the browser console, and uncaught exceptions, as text; assert it is empty where a
    test promises a clean console.  Created before navigation when requested before the page is used."""
    errors: list[str] = []

    def on_console(message):
        if message.type == "error":
            where = message.location.get("url", "") if message.location else ""
            errors.append(f"console error: {message.text}" + (f" ({where})" if where else ""))

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(f"uncaught exception: {error}"))
    return errors


# --------------------------------------------------------------------------------------------
# What a test leaves behind: screenshots and logs
# --------------------------------------------------------------------------------------------
_SAVED: list[Path] = []


@pytest.fixture
def output_dir(request) -> Path:
    """tests/browser/output/<test name>/, emptied when the test starts (pytest-playwright's own `output_path`
    is something else: its traces and failure screenshots, in test-results/)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")
    folder = OUTPUT / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    print(f"output folder: {folder}")
    return folder


@pytest.fixture
def screenshot(page, output_dir, request):
    """screenshot(name, target=None, full_page=False) saves output_dir/NN-name.png (of `target`, a Locator or
    another Page, else of `page`) and returns its path.  One more, NN-end.png (or NN-failed.png), is taken when the
    test ends."""
    count = 0

    def take(name: str, target=None, full_page: bool = False) -> Path:
        nonlocal count
        count += 1
        path = output_dir / f"{count:02d}-{name}.png"
        if target is None:
            page.screenshot(path=path, full_page=full_page)
        else:
            target.screenshot(path=path)
        _SAVED.append(path)
        print(f"screenshot: {path}")
        return path

    yield take
    report = getattr(request.node, "rep_call", None)
    failed = report is not None and report.failed
    with contextlib.suppress(Exception):   # the page may be gone when the test failed badly
        take("failed" if failed else "end")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.rep_call = report
    return report


def pytest_terminal_summary(terminalreporter):
    if _SAVED:
        terminalreporter.write_line(f"browser tests: {len(_SAVED)} screenshots and the server logs in {OUTPUT}/")


# --------------------------------------------------------------------------------------------
# JupyterLab on a scratch folder
# --------------------------------------------------------------------------------------------
# The server is local, whatever $http_proxy says.
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent():
    """In the server's process: get SIGTERM when pytest dies, so that no server outlives a killed test run."""
    with contextlib.suppress(Exception):
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG


@dataclass
class JupyterLab:
    """A running `jupyter lab`.  `url` ends with '/'; the token logs a browser in (see `url_for`)."""
    url: str
    token: str
    root: Path
    log: Path
    process: subprocess.Popen = field(repr=False)

    def url_for(self, path: str = "lab") -> str:
        """The address of `path` (e.g. "lab/tree/a1/a1.ipynb", "formgrader") with the token that logs in."""
        sep = "&" if "?" in path else "?"
        return f"{self.url}{path.lstrip('/')}{sep}token={self.token}"

    def api(self, path: str, method: str = "GET", body: dict | None = None):
        """A call to the server's REST API (e.g. "api/contents/a1"); the decoded JSON answer."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}{path.lstrip('/')}", data=data, method=method,
                                         headers={"Authorization": f"token {self.token}",
                                                  "Content-Type": "application/json"})
        with _NO_PROXY.open(request, timeout=30) as answer:
            text = answer.read().decode()
        return json.loads(text) if text else None

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM (Jupyter then shuts its kernels down), SIGKILL to the process group after `grace` seconds."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


def _jupyter_command() -> list[str]:
    jupyter = Path(sys.executable).with_name("jupyter")   # .venv/bin/jupyter, as `make lab` runs it
    return [str(jupyter), "lab"] if jupyter.exists() else [sys.executable, "-m", "jupyterlab"]


@pytest.fixture
def lab_root(tmp_path) -> Path:
    """An empty scratch folder for a test to copy into and serve with `jupyter_lab`."""
    root = tmp_path / "lab"
    root.mkdir()
    return root


@pytest.fixture
def jupyter_lab(lab_root, output_dir, tmp_path):
    """jupyter_lab(root=lab_root, cwd=root, args=(), env=None, timeout=120) starts `jupyter lab` on `root`, a
    scratch folder (never the repository), waits until its API answers and returns a JupyterLab.  Every server a
    test started is stopped when the test ends; its log is output_dir/jupyter-lab*.log.

    The server runs in `cwd` (nbgrader reads nbgrader_config.py from there), with one BLAS thread and .venv/bin
    first on PATH as `make lab` does, and with its own Jupyter config, data, runtime, settings and workspace
    folders, so that nothing in ~/.jupyter changes what the test sees.  JupyterLab's news prompt is turned off."""
    servers: list[JupyterLab] = []

    def start(root: Path | None = None, *, cwd: Path | None = None, args=(), env: dict | None = None,
              timeout: float = 120.0) -> JupyterLab:
        root = Path(root or lab_root).resolve()
        if root == ROOT or ROOT in root.parents or root in ROOT.parents:
            raise ValueError(f"serve a scratch copy, not the repository: {root}")
        n = len(servers) + 1
        state = tmp_path / f"jupyter-state-{n}"
        settings = state / "lab-settings"
        notification = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
        notification.parent.mkdir(parents=True)
        notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        environment = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
            "JUPYTER_CONFIG_DIR": str(state / "config"), "JUPYTER_DATA_DIR": str(state / "data"),
            "JUPYTER_RUNTIME_DIR": str(state / "runtime"), "IPYTHONDIR": str(state / "ipython"),
            "JUPYTERLAB_SETTINGS_DIR": str(settings), "JUPYTERLAB_WORKSPACES_DIR": str(state / "workspaces"),
            **(env or {}),
        }
        environment.pop("JUPYTER_TOKEN", None)
        port, token = _free_port(), secrets.token_hex(16)
        command = [*_jupyter_command(), "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
                   "--ServerApp.port_retries=0", f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={token}",
                   *(["--allow-root"] if IS_ROOT else []), *args]
        log = output_dir / ("jupyter-lab.log" if n == 1 else f"jupyter-lab-{n}.log")
        with open(log, "wb") as sink:
            sink.write(f"$ {' '.join(command)}\n(cwd {cwd or root})\n\n".encode())
            sink.flush()
            process = subprocess.Popen(command, cwd=cwd or root, env=environment, stdin=subprocess.DEVNULL,
                                       stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
                                       preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
        lab = JupyterLab(url=f"http://127.0.0.1:{port}/", token=token, root=root, log=log, process=process)
        servers.append(lab)
        print(f"jupyter lab on {lab.url} serving {root}; log {log}")
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with code {process.returncode}:\n{lab.log_tail()}")
            try:
                lab.api("api/status")
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"jupyter lab did not answer within {timeout:.0f} s:\n{lab.log_tail()}")
                time.sleep(0.25)
        return lab

    yield start
    for lab in reversed(servers):
        lab.stop()


# --------------------------------------------------------------------------------------------
# Pages opened from disk without the internet, and their math (helpers, not fixtures)
# --------------------------------------------------------------------------------------------
NOT_LOCAL = re.compile(r"^https?://(?!127\.0\.0\.1[:/]|localhost[:/])")   # no test reaches the internet


def block_internet(page) -> list[str]:
    """Abort every request `page` makes to another machine (file:// and local servers pass); returns the list
    the aborted addresses are appended to, to assert it is empty.  Call before navigating."""
    asked: list[str] = []
    page.route(NOT_LOCAL, lambda route: (asked.append(route.request.url), route.abort()))
    return asked


def wait_for_mathjax(page, timeout: float = 120_000) -> dict:
    """Wait until MathJax 2 has typeset every formula on the page: its queue is idle, each TeX source
    (script[type^="math/tex"]) has its jax and its typeset span.MathJax, and the fonts it asked for have loaded
    (or failed: a console error then).  Returns what is on the page then:
    `scripts` (formulas), `display` (display formulas typeset), `errors` (MathJax error boxes), `font` (the
    HTML-CSS output's font; STIX-Web when the web fonts loaded), `renderer`."""
    page.wait_for_function("""() => {
        const hub = window.MathJax && MathJax.Hub;
        if (!hub || !hub.queue || hub.queue.pending || hub.queue.running || hub.queue.queue.length) return false;
        const scripts = document.querySelectorAll('script[type^="math/tex"]').length;
        return scripts > 0 && hub.getAllJax().length === scripts
            && document.querySelectorAll('span.MathJax').length === scripts;
    }""", timeout=timeout, polling=250)
    page.evaluate("() => document.fonts.ready.then(() => null)")   # the web fonts it asked for, loaded or failed
    return page.evaluate("""() => ({
        scripts: document.querySelectorAll('script[type^="math/tex"]').length,
        display: document.querySelectorAll('.MathJax_Display').length,
        errors: document.querySelectorAll('.MathJax_Error, .MathJax merror').length,
        font: MathJax.OutputJax['HTML-CSS'] ? MathJax.OutputJax['HTML-CSS'].fontInUse : null,
        renderer: (MathJax.Hub.outputJax['jax/mml'] || [{}])[0].id || null,
    })""")


# --------------------------------------------------------------------------------------------
# The course site
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def course_site(chromium_path, tmp_path_factory):
    """The course site built once per session with every lecture executed (tests/site_helpers.py: the same build
    tests/test_site.py checks); `.html` is its folder.  Not built when chromium is missing (the tests skip)."""
    from site_helpers import built_site
    return built_site(tmp_path_factory)
