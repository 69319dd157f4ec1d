"""nbgrader configuration for the course.

Source notebooks live in ../solutions and student notebooks are released into ../assignments, so
`python -m autograder release` and plain `nbgrader generate_assignment` write the same files.
Submissions, autograded notebooks, feedback and gradebook.db live here at run time.
"""
import os

c = get_config()  # noqa: F821 - provided by nbgrader
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.source_directory = "../solutions"
c.CourseDirectory.release_directory = "../assignments"
c.CourseDirectory.course_id = "nnkit-course"
# autograder.json holds the grader's limits for an assignment: not something to hand to students
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "autograder.json"]
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
# Timeouts for plain `nbgrader autograde` (the sandboxed grader has its own limits).
c.ExecutePreprocessor.timeout = 120
# The exchange lives in the course folder (ignored by git): `python -m autograder release` publishes each assignment
# there, so the formgrader shows it as released.  On a shared JupyterHub, point it at a folder all users can reach.
c.Exchange.root = os.path.join(c.CourseDirectory.root, "exchange")
# `nbgrader export` writes its table into the course folder, never into the folder it was started from.
c.ExportPlugin.to = os.path.join(c.CourseDirectory.root, "grades.csv")
# Students' feedback leaves out the autograder's banner (flags and similarity passages are for the instructor).
c.GenerateFeedback.preprocessors = ["nbgrader.preprocessors.GetGrades", "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
                                    "autograder.feedback.HideInstructorNotes"]
# Where students on Colab install the course wheel from (upload build/nnkit-course-kit/wheels/*.whl somewhere they
# can reach, put its URL here, then release): the set-up cell of every released notebook prints it.
c.Autograder.student_wheel_url = None
# Answer cells this similar to nnkit's source or to a classmate's answer are flagged for review (None: no check).
c.Autograder.similarity_threshold = 0.7
c.Autograder.similarity_packages = ["nnkit"]   # the reference library students have: its source counts as a source
# The formgrader and feedback pages typeset math with the MathJax installed here, not a CDN (autograder/mathjax.py).
try:
    from autograder.mathjax import template_basedirs
    c.HTMLExporter.extra_template_basedirs = template_basedirs()
except ImportError:  # nbgrader run outside the course's environment: the CDN's MathJax, as nbgrader does
    pass
