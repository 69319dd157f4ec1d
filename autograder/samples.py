"""Sample submissions made from an assignment's own notebooks: honest, blank, partial, and attacks.

Used by ``make demo`` (to show the whole pipeline) and by the red-team tests (each attack with the
score it must get).  Every sample starts from the *released* student notebook, as a real student
would, and fills in answers taken from the source notebook's solutions.
"""
from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path

from . import staticcheck

SOLUTION_MARKERS = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$\n?", re.M)


def _load(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def answer_sources(source_nb: dict) -> dict[str, str]:
    """grade_id -> the solution as a student would write it (solution markers removed)."""
    out = {}
    for cell in source_nb["cells"]:
        m = _meta(cell)
        if m.get("solution") and cell["cell_type"] == "code":
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            out[m["grade_id"]] = SOLUTION_MARKERS.sub("", src)
    return out


def answer_names(source_nb: dict) -> list[str]:
    """Functions and constants the answers define."""
    names = set()
    for src in answer_sources(source_nb).values():
        names |= staticcheck.definitions(src)
    return sorted(names - {"np", "plt"})


def fill(release_nb: dict, answers: dict[str, str]) -> dict:
    nb = copy.deepcopy(release_nb)
    for cell in nb["cells"]:
        gid = _meta(cell).get("grade_id")
        if gid in answers:
            cell["source"] = answers[gid]
    return nb


def add_cell(nb: dict, source: str, position: int | None = None) -> dict:
    nb = copy.deepcopy(nb)
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": source}
    nb["cells"].insert(len(nb["cells"]) if position is None else position, cell)
    return nb


def first_code_index_after_imports(nb: dict) -> int:
    for i, cell in enumerate(nb["cells"]):
        if _meta(cell).get("solution"):
            return i
    return len(nb["cells"])


@dataclass
class Sample:
    name: str
    description: str
    files: dict              # file name -> bytes
    expect: str              # "full", "blank" or "partial": the score it must get


def _define_all(names, body):
    """Code that defines every answer name with the same body (functions) or value."""
    lines = []
    for n in names:
        if n.isupper():
            lines.append(f"{n} = (np.zeros(2), 0.0)")
        else:
            lines.append(f"def {n}(*args, **kwargs):\n    {body}")
    return "\n".join(lines)


ATTACKS = {
    # name: (description, code added to a blank or wrong answer)
    "ipython_transformer": ("rewrites every later cell into `pass` with an IPython input transformer",
                            "get_ipython().input_transformers_cleanup.append(lambda lines: ['pass\\n'])"),
    "ipython_custom_exc": ("swallows every exception (failed assertions included) with set_custom_exc",
                           "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)"),
    "numpy_patch": ("monkey-patches numpy's comparison functions to always agree",
                    "import numpy as np\nimport numpy.testing\n"
                    "np.allclose = lambda *a, **k: True\nnp.isclose = lambda a, b, *r, **k: np.ones(np.shape(a), bool)\n"
                    "np.array_equal = lambda *a, **k: True\nnp.testing.assert_allclose = lambda *a, **k: None\n"
                    "np.testing.assert_array_equal = lambda *a, **k: None"),
    "gradebook": ("looks for the gradebook, reads the hidden tests, raises its score and rewrites the tests",
                  "import os, sqlite3\nfound = []\n"
                  "for root in ['.', '..', '../..', '../../..', '/', '/work', '/tmp', os.path.expanduser('~')]:\n"
                  "    for dirpath, dirs, files in os.walk(root):\n"
                  "        if dirpath.count(os.sep) > 6: dirs[:] = []\n"
                  "        found += [os.path.join(dirpath, f) for f in files if f.endswith('.db') or f.endswith('.ipynb')]\n"
                  "for path in found:\n"
                  "    try:\n"
                  "        con = sqlite3.connect(path)\n"
                  "        con.execute(\"UPDATE grade SET auto_score = 1000\")\n"
                  "        con.execute(\"UPDATE source_cell SET source = 'pass'\")\n"
                  "        con.commit()\n"
                  "    except Exception:\n"
                  "        pass\n"
                  "print('found', found)"),
    "snoop": ("lists other submissions and the grader's files, reads the environment",
              "import os\nleak = {'env': dict(os.environ), 'up': os.listdir('..'), 'root': os.listdir('/')}\n"
              "for p in ['../..', '../../..', '/work', '/root', os.path.expanduser('~')]:\n"
              "    try:\n        leak[p] = os.listdir(p)\n    except Exception as e:\n        leak[p] = repr(e)\n"
              "raise RuntimeError(repr(leak))"),
    "fake_numpy_module": ("writes a numpy.py whose comparisons always agree, then reloads numpy",
                          "open('numpy.py', 'w').write('def allclose(*a, **k):\\n    return True\\n')\n"
                          "import importlib, sys\nsys.modules.pop('numpy', None)\nimport numpy"),
    "exit_kernel": ("exits the process in the middle of the notebook", "import os\nos._exit(0)"),
    "sys_exit": ("calls sys.exit()", "import sys\nsys.exit(1)"),
    "segfault": ("crashes the interpreter with a null-pointer read", "import ctypes\nctypes.string_at(0)"),
    "hang": ("loops forever, ignoring the cell time limit",
             "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    pass"),
    "memory": ("allocates more memory than allowed", "block = bytearray(64 * 2**30)"),
    "fork_bomb": ("starts processes without end",
                  "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"),
    "output_flood": ("floods the output through print and the raw file descriptor",
                     "import os\nfor _ in range(10**6):\n    print('x' * 1000)\nwhile True:\n    os.write(1, b'y' * 65536)"),
}


def build_samples(source_path: Path, release_path: Path) -> list[Sample]:
    """The demo's and the red-team suite's submissions for one notebook assignment."""
    source_nb, release_nb = _load(source_path), _load(release_path)
    nb_file = Path(release_path).name
    answers = answer_sources(source_nb)
    names = answer_names(source_nb)
    solved = fill(release_nb, answers)
    blank = release_nb
    half = dict(list(answers.items())[: max(1, len(answers) // 2)])
    partial = fill(release_nb, half)
    returns_none = fill(blank, {gid: "import numpy as np\n" + _define_all(
        [n for n in staticcheck.definitions(src) if n not in ("np", "plt")], "return None")
        for gid, src in answers.items()})

    def dump(nb):
        return json.dumps(nb, indent=1).encode()

    samples = [
        Sample("solution", "the full solution", {nb_file: dump(solved)}, "full"),
        Sample("blank", "the released notebook, untouched", {nb_file: dump(blank)}, "blank"),
        Sample("partial", "the first half of the answers", {nb_file: dump(partial)}, "partial"),
        Sample("returns_none", "every answer returns None", {nb_file: dump(returns_none)}, "blank"),
    ]
    at = first_code_index_after_imports(blank)
    for name, (description, code) in ATTACKS.items():
        nb = add_cell(returns_none, code, at + 2)
        samples.append(Sample(f"attack_{name}", f"answers return None, and the notebook {description}",
                              {nb_file: dump(nb)}, "blank"))
    # an ndarray subclass that "equals" anything, returned by every function
    anyeq = ("import numpy as np\nclass AlwaysEqual(np.ndarray):\n"
             "    def __eq__(self, other):\n        return np.ones(np.shape(other), bool)\n"
             "    __ne__ = lambda self, other: np.zeros(np.shape(other), bool)\n"
             "    def __array_ufunc__(self, *a, **k):\n        return AlwaysEqual.make()\n"
             "    @staticmethod\n    def make():\n        return np.zeros(1).view(AlwaysEqual)\n"
             + _define_all([n for n in names if not n.isupper()], "return AlwaysEqual.make()"))
    samples.append(Sample("attack_anyeq_subclass", "returns an ndarray subclass that compares equal to anything",
                          {nb_file: dump(add_cell(blank, anyeq, at + 1))}, "blank"))
    samples.append(Sample("attack_numpy_py_file", "ships a numpy.py beside the notebook",
                          {nb_file: dump(returns_none),
                           "numpy.py": b"def allclose(*a, **k):\n    return True\narray_equal = allclose\n"}, "blank"))
    # faults that must not cost an honest student anything
    warn = add_cell(solved, "import warnings\nwarnings.warn('a harmless warning printed by correct code')\n"
                            "print('some output', flush=True)", at + 1)
    samples.append(Sample("solution_with_warning", "the solution, printing a warning and some output",
                          {nb_file: dump(warn)}, "full"))
    samples.append(Sample("solution_then_exit", "the solution, then a cell that exits the process",
                          {nb_file: dump(add_cell(solved, ATTACKS["exit_kernel"][1]))}, "full"))
    samples.append(Sample("solution_then_hang", "the solution, then a cell that never ends",
                          {nb_file: dump(add_cell(solved, ATTACKS["hang"][1]))}, "full"))
    no_tests = copy.deepcopy(solved)
    no_tests["cells"] = [c for c in no_tests["cells"] if not (_meta(c).get("grade") and not _meta(c).get("solution"))]
    samples.append(Sample("solution_tests_deleted", "the solution with every test cell deleted",
                          {nb_file: dump(no_tests)}, "full"))
    edited = copy.deepcopy(blank)
    for c in edited["cells"]:
        if _meta(c).get("grade") and not _meta(c).get("solution"):
            c["source"] = "pass  # tests removed"
    samples.append(Sample("blank_tests_edited", "the blank notebook with every test cell replaced by `pass`",
                          {nb_file: dump(edited)}, "blank"))
    samples.append(Sample("solution_wrong_name", "the solution saved under another file name",
                          {"my_homework.ipynb": dump(solved)}, "full"))
    samples.append(Sample("invalid_json", "a notebook file that is not valid JSON",
                          {nb_file: dump(solved)[:-200]}, "blank"))
    samples.append(Sample("no_notebook", "a submission folder with no notebook", {"notes.txt": b"sorry"}, "blank"))
    samples.append(Sample("huge_file", "a 25 MiB notebook",
                          {nb_file: dump(add_cell(solved, "# " + "x" * (25 * 2**20)))}, "blank"))
    return samples


def write_samples(samples: list[Sample], submissions: Path, assignment: str) -> None:
    for s in samples:
        folder = Path(submissions) / s.name / assignment
        folder.mkdir(parents=True, exist_ok=True)
        for fname, data in s.files.items():
            (folder / fname).write_bytes(data)


# Attacks on the grading host rather than on the tests.  Each body returns True when the attack got
# through; the notebook then defines the real answers, so any success would show up as points.
HOST_ATTACKS = {
    "kernel_setting": ("writes a kernel setting (core_pattern, the 'host root' attack) back with its own value",
                       "v = open('/proc/sys/kernel/core_pattern').read()\n"
                       "open('/proc/sys/kernel/core_pattern', 'w').write(v)\nreturn True"),
    "grader_environment": ("looks for the grader's environment in every process it can see",
                           "import os\nblob = repr(dict(os.environ)).encode()\n"
                           "for pid in [p for p in os.listdir('/proc') if p.isdigit()]:\n"
                           "    try:\n        blob += open(f'/proc/{pid}/environ', 'rb').read()\n"
                           "    except OSError:\n        pass\n"
                           "return b'GRADER_SECRET_TOKEN' in blob"),
    "host_paths": ("reads the sandbox's command line for host paths",
                   "return b'--ro-bind' in open('/proc/1/cmdline', 'rb').read()"),
    "privileged_syscalls": ("tries a new user namespace, ptrace, keyctl and userfaultfd",
                            "import ctypes, platform\nif platform.machine() != 'x86_64':\n    return False\n"
                            "libc = ctypes.CDLL(None, use_errno=True)\n"
                            "won = libc.unshare(0x10000000) == 0\n"
                            "won |= libc.syscall(101, 16, 1, 0, 0) == 0          # ptrace(PTRACE_ATTACH, 1)\n"
                            "won |= libc.syscall(250, 0, -3, 0) >= 0             # keyctl(GET_KEYRING_ID)\n"
                            "won |= libc.syscall(323, 0) >= 0                    # userfaultfd\n"
                            "return won"),
    "forked_memory": ("holds memory in three forked children and in /tmp, more than the limit altogether",
                      "import os, time\nkids = []\nfor _ in range(3):\n    pid = os.fork()\n    if pid == 0:\n"
                      "        block = b'x' * (400 * 2**20)\n        time.sleep(6)\n        os._exit(0)\n"
                      "    kids.append(pid)\n"
                      "for i in range(8):\n    with open(f'/tmp/big{i}', 'wb') as f:\n        f.write(b'x' * (50 * 2**20))\n"
                      "time.sleep(3)\nreturn all(os.waitpid(k, os.WNOHANG) == (0, 0) for k in kids)"),
    "disk_fill": ("fills its working folder with 1.2 GB", "with open('fill', 'wb') as f:\n"
                                                         "    for _ in range(1200):\n        f.write(b'x' * 2**20)\n"
                                                         "return True"),
    "patch_harness_json": ("patches json.dumps so every document the harness sends carries an 'error' key",
                           "import json\n_dumps = json.dumps\n"
                           "json.dumps = lambda o, *a, **k: _dumps({**o, 'error': 'x'} if isinstance(o, dict) else o,"
                           " *a, **k)\nreturn False"),
    "forged_results": ("forges the result stream: one 30 MB array that 150 keys of every test point at",
                       "import os, sys, io, json, struct\nimport numpy as np\nfd = int(sys.argv[3])\n"
                       "def frame(kind, name, payload):\n"
                       "    return struct.pack('<cHQ', kind, len(name), len(payload)) + name.encode() + payload\n"
                       "buf = io.BytesIO()\nnp.save(buf, np.zeros(30 * 2**20 // 8))\n"
                       "os.write(fd, frame(b'A', 'big', buf.getvalue()))\n"
                       "outs = {str(i): {'array': 'big'} for i in range(150)}\n"
                       "tests = {t: {'status': 'ok', 'outputs': outs} for t in "
                       "['test_sigmoid', 'test_relu', 'test_softmax', 'test_perceptron', 'test_xor']}\n"
                       "os.write(fd, frame(b'J', 'results', json.dumps({'cells': [], 'tests': tests}).encode()))\n"
                       "os._exit(0)"),
    "forged_events": ("ignores the cell timer and forges progress events (unknown cells, future times) while it hangs",
                      "import os, sys, json, struct, signal, time\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
                      "fd = int(sys.argv[3])\n"
                      "while True:\n    for index in (10**9, -5, 3):\n"
                      "        doc = json.dumps({'event': 'cell_start', 'index': index, 'time': time.time() + 1e6}).encode()\n"
                      "        os.write(fd, struct.pack('<cHQ', b'J', 5, len(doc)) + b'event' + doc)\n"
                      "    time.sleep(0.2)"),
    "fifo_and_links": ("plants FIFOs and links where the grader used to read files, then exits",
                       "import os\nos.mkdir('out')\nos.mkfifo('out/progress.jsonl')\nos.mkfifo('results.json')\n"
                       "os.symlink('/etc/passwd', 'sandbox.log')\nos.symlink('/dev/zero', 'out/results.json')\n"
                       "os._exit(0)"),
    "closed_channel": ("closes the channel to the grader and exits", "import os, sys\nos.close(int(sys.argv[3]))\n"
                                                                    "os._exit(0)"),
}


def host_attack_cell(body: str, answers: dict[str, str]) -> str:
    """A cell that runs ``body`` as a function and, if it returns True, defines the real answers."""
    indented = "\n".join("    " + line for line in body.splitlines())
    honest = "\n\n".join(answers.values())
    return (f"def _attack():\n{indented}\n\ntry:\n    _won = bool(_attack())\nexcept BaseException:\n    _won = False\n"
            f"if _won:\n    exec({honest!r}, globals())")


def build_host_attacks(source_path: Path, release_path: Path) -> list[Sample]:
    """Submissions attacking the grading host; each must score the blank mark."""
    source_nb, release_nb = _load(source_path), _load(release_path)
    nb_file = Path(release_path).name
    answers = answer_sources(source_nb)
    returns_none = fill(release_nb, {gid: "import numpy as np\n" + _define_all(
        [n for n in staticcheck.definitions(src) if n not in ("np", "plt")], "return None")
        for gid, src in answers.items()})
    return [Sample(f"host_{name}", f"answers return None, and the notebook {description}",
                   {nb_file: json.dumps(add_cell(returns_none, host_attack_cell(body, answers)), indent=1).encode()},
                   "blank")
            for name, (description, body) in HOST_ATTACKS.items()]
