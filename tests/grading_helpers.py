"""What the grader's red-team suites share: a scratch course, and a batch graded with a canary in the environment."""
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CANARY_ENV = "GRADER_SECRET_TOKEN"   # the name the attacks look for


def scratch_course(tmp: Path) -> Path:
    """``tmp/course`` with this course's config, beside links to the real solutions and assignments."""
    course = tmp / "course"
    course.mkdir()
    shutil.copy(ROOT / "course" / "nbgrader_config.py", course)
    (tmp / "solutions").symlink_to(ROOT / "solutions")
    (tmp / "assignments").symlink_to(ROOT / "assignments")
    return course


@contextmanager
def canary_in_environment(value: str):
    """The grader's environment holds ``CANARY_ENV=value`` while the block runs (no student may ever see it)."""
    os.environ[CANARY_ENV] = value
    try:
        yield
    finally:
        del os.environ[CANARY_ENV]
