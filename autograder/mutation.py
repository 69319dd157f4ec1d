"""Mutation testing of an assignment's tests: realistic student mistakes, and what each must cost.

A catalogue is a Python file with ``MUTANTS = [Mutant(...), ...]``; this course keeps them in
``tests/mutants/<assignment>.py`` (never beside the solutions: nbgrader would release them).  A
mutant is one mistake in one answer cell: ``find`` (exact text of the cell's solution, without the
``### BEGIN/END SOLUTION`` lines, occurring once) becomes ``replace``.  A fair assignment catches
it in a test it ``targets`` and costs the student nothing anywhere else, except in tests that
state a dependency on a target (``depends_on``) or that the mutant lists as ``allowed``; and the
failing test's feedback names the ``function`` at fault.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Mutant:
    name: str
    cell: str                     # grade_id of the answer cell it changes
    find: str                     # text of the solution, occurring exactly once in that cell
    replace: str
    targets: tuple                # tests that must lose points
    function: str                 # the failing target's message must name it
    why: str = ""                 # the mistake, as a TA would describe it
    allowed: tuple = ()           # other tests that may lose points (a dependency the notebook states)
    notebook: str | None = None   # for assignments with several notebooks

    def __post_init__(self):
        if isinstance(self.targets, str) or isinstance(self.allowed, str):
            raise TypeError(f"mutant {self.name}: targets and allowed are tuples of test ids, not strings")
        if not self.targets:
            raise ValueError(f"mutant {self.name}: it must target at least one test")


@dataclass
class Verdict:
    """What one mutant cost, judged against what it should cost."""
    mutant: Mutant
    lost: dict = field(default_factory=dict)       # test id -> fraction of runs in which it lost points
    messages: dict = field(default_factory=dict)   # test id -> a failure message
    problems: list = field(default_factory=list)

    @property
    def caught(self) -> bool:
        return any(self.lost.get(t, 0) > 0 for t in self.mutant.targets)


def load_catalogue(path: Path) -> list[Mutant]:
    spec = importlib.util.spec_from_file_location(f"mutants_{Path(path).stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    mutants = list(getattr(module, "MUTANTS", []))
    names = [m.name for m in mutants]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"{path}: mutant names used twice: {', '.join(duplicated)}")
    return mutants


def apply(mutant: Mutant, answers: dict[str, str]) -> dict[str, str]:
    """The answers (grade_id -> code) with the mutant's mistake made; a catalogue error raises ValueError."""
    if mutant.cell not in answers:
        raise ValueError(f"mutant {mutant.name}: no answer cell '{mutant.cell}' (cells: {', '.join(answers)})")
    source = answers[mutant.cell]
    count = source.count(mutant.find)
    if count != 1:
        raise ValueError(f"mutant {mutant.name}: the text to replace occurs {count} times in cell '{mutant.cell}', "
                         "not once")
    if mutant.find == mutant.replace:
        raise ValueError(f"mutant {mutant.name}: replace is the same as find")
    return {**answers, mutant.cell: source.replace(mutant.find, mutant.replace)}


def judge(mutant: Mutant, lost: dict[str, float], messages: dict[str, str], tests: list[str],
          dependents: dict[str, list[str]], most: float = 0.5) -> Verdict:
    """Compare what the mutant cost (``lost``: test -> fraction of runs failed) with what it should cost.

    ``dependents``: test -> the tests it ``depends_on``; a test depending on a target may fail too.
    ``most``: the fraction of runs in which some target must fail.
    """
    verdict = Verdict(mutant, {t: f for t, f in lost.items() if f > 0}, messages)
    unknown = [t for t in (*mutant.targets, *mutant.allowed) if t not in tests]
    if unknown:
        verdict.problems.append(f"names tests that do not exist: {', '.join(unknown)}")
        return verdict
    best = max(lost.get(t, 0.0) for t in mutant.targets)
    if best == 0:
        verdict.problems.append(f"escaped: no target ({', '.join(mutant.targets)}) lost points")
    elif best < most:
        verdict.problems.append(f"caught on only {best:.0%} of runs (needs {most:.0%})")
    excused = set(mutant.targets) | set(mutant.allowed)
    excused |= {t for t, deps in dependents.items() if set(deps) & set(mutant.targets)}
    extra = sorted(t for t, f in lost.items() if f > 0 and t not in excused)
    if extra:
        verdict.problems.append(f"cascades: also costs {', '.join(extra)} ({messages.get(extra[0], '')[:160]})")
    failing = [t for t in mutant.targets if lost.get(t, 0) > 0]
    if failing and not any(f"{mutant.function}" in messages.get(t, "") for t in failing):
        verdict.problems.append(f"feedback does not name `{mutant.function}`: {messages.get(failing[0], '')[:200]}")
    return verdict
