"""Integrity signal: answers copied from nnkit's source or from a classmate are flagged for a human, with the
passages side by side; independent answers and the code the release gives are never flagged; no score changes;
students' feedback never shows the passages."""
import csv
import html
import json
import re
import shutil
import textwrap
from pathlib import Path

import nbformat
import pytest

from autograder import similarity
from autograder.batch import grade

ROOT = Path(__file__).resolve().parent.parent

SOFTMAX_STUB = "def softmax(z, axis=-1):\n    ### BEGIN SOLUTION\n{}\n    ### END SOLUTION\n"
CE_STUB = "def ce_derivatives(logits, labels):\n    ### BEGIN SOLUTION\n{}\n    ### END SOLUTION\n"
PERCEPTRON_STUB = "def perceptron_fit(X, y, epochs=100, lr=1.0):\n    ### BEGIN SOLUTION\n{}\n    ### END SOLUTION\n"
STUBS = {"softmax": SOFTMAX_STUB, "ce": CE_STUB, "perceptron": PERCEPTRON_STUB}

SOLUTION = {
    "softmax": """    z = np.asarray(z, dtype=float)
    shifted = z - np.max(z, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)""",
    "ce": """    n = logits.shape[0]
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    onehot = np.eye(logits.shape[1])[labels]
    loss = -np.mean(np.log(p[np.arange(n), labels]))
    return loss, (p - onehot) / n, p * (1 - p) / n""",
    "perceptron": """    X = np.asarray(X, dtype=float)
    w, b = np.zeros(X.shape[1]), 0.0
    for _ in range(epochs):
        mistakes = 0
        for xi, yi in zip(X, y):
            if yi * (xi @ w + b) <= 0:
                w += lr * yi * xi
                b += lr * yi
                mistakes += 1
        if mistakes == 0:
            break
    return w, b""",
}
TESTS = {
    "softmax": """from autograder.checks import student, expect_close
import numpy as np
import nnkit.functional as F
z = np.array([[0.5, 0.5, 0.1, 0.7], [1000.0, 0.0, -1000.0, 3.0]])
expect_close(student.softmax(z), F.softmax(z, dim=-1), "softmax of two rows")""",
    "ce": """from autograder.checks import student, expect_close
import numpy as np
import nnkit.functional as F
_z = np.array([[2.0, -1.0, 0.5], [0.0, 3.0, -2.0], [1.0, 1.0, 1.0], [-4.0, 2.0, 0.0]])
_t = np.array([0, 1, 2, 1])
_p = F.softmax(_z, dim=1)
_g = _p.copy()
_g[np.arange(4), _t] -= 1
_got = student.ce_derivatives(_z, _t)
expect_close(_got[0], F.cross_entropy(_z, _t), "ce_derivatives: the mean cross-entropy")
expect_close(_got[1], _g / 4, "ce_derivatives: dQ/dz")
expect_close(_got[2], _p * (1 - _p) / 4, "ce_derivatives: the Hessian's diagonal")""",
    "perceptron": """from autograder.checks import student, expect_that
import numpy as np
X = np.array([[2.0, 1.0], [1.0, 3.0], [-1.0, -2.0], [-2.0, -0.5], [3.0, 2.0], [-1.5, -3.0]])
y = np.array([1, 1, -1, -1, 1, -1])
def _separates(wb):
    w, b = np.asarray(wb[0], dtype=float), float(wb[1])
    return bool(np.all(y * (X @ w + b) > 0)), "perceptron_fit's (w, b) does not separate the data"
expect_that(student.perceptron_fit(X, y), _separates, "perceptron_fit on a separable set")""",
}

# What students wrote.  nnkit_paster: nnkit.neuron.Perceptron.fit, comments dropped, a namespace standing in
# for ``self``; everything else of theirs is their own.
NNKIT_PERCEPTRON = """    import types
    self = types.SimpleNamespace(weight=np.zeros(np.shape(X)[1]), bias=0.0, lr=lr, rng=np.random.default_rng(0))
    X = np.asarray(X, dtype=float)
    y = np.asarray(y)
    if y.shape != (len(X),):
        raise ValueError(f"Perceptron.fit expects y of shape ({len(X)},), got {y.shape}")
    if y.dtype.kind not in "biuf" or not np.isin(y, (-1, 1)).all():
        raise ValueError(f"Perceptron labels must be -1 or +1 (the deck's Y = {{±1}}), got values "
                         f"{np.unique(y)[:5].tolist()}; convert 0/1 labels with 2*y - 1")
    y = y.astype(np.float64)
    mistakes_per_epoch = []
    for _ in range(epochs):
        order = self.rng.permutation(len(X))
        mistakes = 0
        for i in order:
            if y[i] * (X[i] @ self.weight + self.bias) <= 0:
                self.weight += self.lr * y[i] * X[i]
                self.bias += self.lr * y[i]
                mistakes += 1
        mistakes_per_epoch.append(mistakes)
        if mistakes == 0:
            break
    return self.weight, self.bias"""
PASTER_CE = """    z = np.asarray(logits, dtype=np.float64)
    n = len(z)
    top = z.max(axis=1)
    log_norm = top + np.log(np.exp(z - top[:, None]).sum(axis=1))
    q = np.exp(z - log_norm[:, None])
    chosen = np.zeros(z.shape, dtype=bool)
    chosen[np.arange(n), labels] = True
    nll = float(np.sum(log_norm - z[chosen])) / n
    return nll, (q - chosen) / n, q * (1.0 - q) / n"""
# sharer_a wrote this perceptron; sharer_b got it, renamed everything and reformatted it.
SHARED = """    data = np.asarray(X, dtype=float)
    labels = np.where(np.asarray(y) > 0, 1.0, -1.0)
    weights = np.zeros(data.shape[1])
    offset = 0.0
    for epoch in range(epochs):
        changed = False
        for row in range(data.shape[0]):
            score = labels[row] * (np.dot(weights, data[row]) + offset)
            if score <= 0.0:
                weights = weights + lr * labels[row] * data[row]
                offset = offset + lr * labels[row]
                changed = True
        if not changed:
            break
    return weights, offset"""
SHARED_RENAMED = """    A = np.asarray(X, dtype = float)
    t = np.where(np.asarray(y) > 0,  1.0, -1.0)
    vec = np.zeros(A.shape[1]); c = 0.0
    for it in range(epochs):
        upd = False
        for k in range(A.shape[0]):
            s = t[k] * (np.dot(vec, A[k]) + c)
            if s <= 0.0:
                vec = vec + lr * t[k] * A[k]
                c = c + lr * t[k]
                upd = True
        if not upd: break
    return vec, c"""
SOFTMAXES = [
    """    m = np.max(z, axis=axis, keepdims=True)
    ex = np.exp(z - m)
    return ex / ex.sum(axis=axis, keepdims=True)""",
    """    z = np.array(z, dtype=float)
    z = np.moveaxis(z, axis, -1)
    z = z - z.max(-1)[..., None]
    p = np.exp(z)
    p = p / p.sum(-1)[..., None]
    return np.moveaxis(p, -1, axis)""",
    """    shift = np.amax(z, axis=axis, keepdims=True)
    num = np.exp(np.subtract(z, shift))
    den = np.sum(num, axis=axis, keepdims=True)
    return np.divide(num, den)""",
    """    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)""",
    """    z = np.asarray(z, dtype=np.float64)
    out = np.exp(z - np.max(z, axis=axis, keepdims=True))
    out /= out.sum(axis=axis, keepdims=True)
    return out""",
    """    lse = np.max(z, axis=axis, keepdims=True)
    lse = lse + np.log(np.sum(np.exp(z - lse), axis=axis, keepdims=True))
    return np.exp(z - lse)""",
]
CES = [
    SOLUTION["ce"].replace("onehot", "target"),
    """    losses, grads, hess = [], [], []
    for row, label in zip(logits, labels):
        m = row.max()
        e = np.exp(row - m)
        prob = e / e.sum()
        losses.append(np.log(e.sum()) + m - row[label])
        g = prob.copy()
        g[label] -= 1.0
        grads.append(g)
        hess.append(prob * (1.0 - prob))
    n = len(labels)
    return np.mean(losses), np.array(grads) / n, np.array(hess) / n""",
    """    from scipy.special import logsumexp
    lse = logsumexp(logits, axis=1)
    n = len(labels)
    loss = np.sum(lse - logits[range(n), labels]) / n
    P = np.exp(logits - lse[:, None])
    Y = np.zeros_like(P)
    Y[range(n), labels] = 1
    return loss, (P - Y) / n, (P - P ** 2) / n""",
    """    count = logits.shape[0]
    stable = logits - np.amax(logits, axis=-1)[:, np.newaxis]
    softmax = np.exp(stable)
    softmax /= np.sum(softmax, axis=-1)[:, np.newaxis]
    picked = softmax[np.arange(count), labels]
    mask = labels[:, None] == np.arange(logits.shape[1])[None, :]
    return -np.log(picked).mean(), (softmax - mask) / count, softmax * (1 - softmax) / count""",
    """    n, k = logits.shape
    out = np.empty_like(logits, dtype=float)
    for i in range(n):
        ex = np.exp(logits[i] - np.max(logits[i]))
        out[i] = ex / np.sum(ex)
    total = 0.0
    for i in range(n):
        total -= np.log(out[i, labels[i]])
    d = out.copy()
    for i in range(n):
        d[i, labels[i]] -= 1
    return total / n, d / n, out * (1 - out) / n""",
]
PERCEPTRONS = [
    """    X = np.asarray(X, float)
    w = np.zeros(X.shape[1])
    b = 0.0
    for epoch in range(epochs):
        wrong = [i for i in range(len(X)) if y[i] * (X[i].dot(w) + b) <= 0]
        if not wrong:
            break
        for i in range(len(X)):
            if y[i] * (X[i].dot(w) + b) <= 0:
                w = w + lr * y[i] * X[i]
                b = b + lr * y[i]
    return w, b""",
    """    w = np.zeros(np.shape(X)[1]); b = 0.
    n = len(y)
    for _ in range(epochs):
        errors = 0
        for j in range(n):
            x_j, y_j = np.asarray(X[j], float), float(y[j])
            margin = y_j * (np.sum(w * x_j) + b)
            if margin <= 0:
                w += lr * y_j * x_j
                b += lr * y_j
                errors = errors + 1
        if errors == 0:
            return w, b
    return w, b""",
    SOLUTION["perceptron"],   # the textbook loop, as in the lecture
    """    Xb = np.hstack([np.asarray(X, float), np.ones((len(X), 1))])
    theta = np.zeros(Xb.shape[1])
    for _ in range(epochs):
        clean = True
        for xb, target in zip(Xb, y):
            if target * theta.dot(xb) <= 0:
                theta += lr * target * xb
                clean = False
        if clean:
            break
    return theta[:-1], theta[-1]""",
]
STUDENTS = {   # softmax, ce_derivatives, perceptron_fit
    "nnkit_paster": (SOFTMAXES[0], PASTER_CE, NNKIT_PERCEPTRON),
    "sharer_a": (SOFTMAXES[1], CES[0], SHARED),
    "sharer_b": (SOFTMAXES[2], CES[1], SHARED_RENAMED),
    "ivan": (SOFTMAXES[3], CES[2], PERCEPTRONS[0]),
    "maria": (SOFTMAXES[4], CES[3], PERCEPTRONS[1]),
    "olga": (SOFTMAXES[5], CES[4], PERCEPTRONS[2]),
}
HONEST = ("ivan", "maria", "olga")


def _cell(source, **nbgrader):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"schema_version": 3, "locked": False, "solution": False, "grade": False, **nbgrader}
    return cell


def _notebook(bodies: dict[str, str]):
    nb = nbformat.v4.new_notebook()
    nb.cells = [_cell("import numpy as np", grade_id="imports", locked=True)]
    for name, stub in STUBS.items():
        nb.cells.append(_cell(stub.format(bodies[name]), grade_id=name, solution=True))
        nb.cells.append(_cell(TESTS[name], grade_id=f"test_{name}", grade=True, locked=True, points=2))
    return nb


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    from autograder import sandbox
    sandbox.check_available()
    tmp = tmp_path_factory.mktemp("similarity")
    course = tmp / "course"
    course.mkdir()
    shutil.copy(ROOT / "course" / "nbgrader_config.py", course)
    (tmp / "solutions" / "sim").mkdir(parents=True)
    nbformat.write(_notebook(SOLUTION), tmp / "solutions" / "sim" / "sim.ipynb")
    for student, bodies in STUDENTS.items():
        folder = tmp / "submitted" / student / "sim"
        folder.mkdir(parents=True)
        nb = _notebook(dict(zip(STUBS, bodies)))
        for cell in nb.cells:   # what a student submits has no solution markers
            cell.source = cell.source.replace("    ### BEGIN SOLUTION\n", "").replace("\n    ### END SOLUTION", "")
        nbformat.write(nb, folder / "sim.ipynb")
    results, crashed, _ = grade("sim", tmp / "submitted", tmp / "out", workers=2, course=course, sandboxed=True,
                                secret=1, progress=False)
    return tmp, course, {r.student_id: r for r in results}, crashed


def test_every_answer_here_is_correct_so_scores_are_full(batch):
    _, _, results, crashed = batch
    assert not crashed
    assert {s: r.score for s, r in results.items()} == dict.fromkeys(results, 6.0)


def test_exactly_the_copies_are_flagged(batch):
    _, _, results, _ = batch
    flagged = {s: sorted((m.cell, m.other) for m in r.similarity) for s, r in results.items()}
    assert flagged["nnkit_paster"] == [("perceptron", "nnkit/neuron.py")], flagged
    assert flagged["sharer_a"] == [("perceptron", "student sharer_b")], flagged
    assert flagged["sharer_b"] == [("perceptron", "student sharer_a")], flagged
    assert all(flagged[s] == [] for s in HONEST), flagged


def test_the_report_shows_the_passages_side_by_side(batch):
    tmp, _, _, _ = batch
    report = {s["student_id"]: s for s in json.loads((tmp / "out" / "report.json").read_text())["submissions"]}
    match = report["nnkit_paster"]["similarity"][0]
    assert match["score"] >= 0.7 and match["passages"]
    mine = " ".join(p["mine"] for p in match["passages"])
    theirs = " ".join(p["theirs"] for p in match["passages"])
    assert "mistakes_per_epoch.append(mistakes)" in mine and 'raise ValueError(f"Perceptron.fit expects y' in theirs
    shared = report["sharer_b"]["similarity"][0]
    assert "vec = vec + lr * t[k] * A[k]" in " ".join(p["mine"] for p in shared["passages"])
    assert "weights = weights + lr * labels[row] * data[row]" in " ".join(p["theirs"] for p in shared["passages"])
    assert any("matches student sharer_b" in f for f in report["sharer_a"]["flags"])


def test_grades_csv_has_a_similarity_column(batch):
    tmp, _, _, _ = batch
    rows = {r["student_id"]: r for r in csv.DictReader(open(tmp / "out" / "grades.csv"))}
    assert float(rows["nnkit_paster"]["similarity"]) >= 0.7 and float(rows["sharer_a"]["similarity"]) >= 0.7
    assert all(rows[s]["similarity"] == "" for s in HONEST)


def test_the_instructor_sees_the_passages_and_students_never_do(batch):
    tmp, course, _, _ = batch
    autograded = json.loads((course / "autograded" / "sharer_a" / "sim" / "sim.ipynb").read_text())
    banner = autograded["cells"][0]
    assert banner["id"] == "autograder-banner"
    text = "".join(banner["source"])
    assert "matches student sharer_b" in text and "<table>" in text and "vec = vec + lr * t[k] * A[k]" in text
    from autograder.feedback import generate_feedback
    pages = generate_feedback(course, "sim", ["sharer_a"])
    page = pages[0].read_text()
    assert "sharer_b" not in page and "vec = vec" not in page and "Flagged by the autograder" not in page
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    assert "weights = weights + lr * labels[row] * data[row]" in text   # their own answer is there


def test_template_code_never_counts_as_copying():
    given = ["def softmax(z, axis=-1):\n    # YOUR CODE HERE\n    raise NotImplementedError()"]
    stub_only = [similarity.Answer(s, "nb", "softmax", "softmax", given[0]) for s in ("a", "b", "c")]
    assert similarity.find_copies(stub_only, given, corpus={}) == {}
