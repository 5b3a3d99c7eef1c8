"""The hidden checks of the labs, run by :mod:`dgmlib.course.grader` inside each submission's own kernel.

One module per lab (``lab1_vae``, ``lab2_gan``, ``lab3_flows``) holds a list ``CHECKS`` of
:class:`Check` (question, what it proves, points, the function that proves it) and a dict
``REFERENCES`` of reference implementations of the lab's functions. The grader executes the
submission, then, in the same kernel, ``run_checks(lab, globals(), path)``:

- every check gets its points or 0, with feedback a student can act on; a question's points are
  the sum of its checks' (partial credit);
- each check runs under its own time limit (``SIGALRM``), with the student's prints swallowed,
  from a fixed seed, with gradients on;
- each question is graded on its own: while its checks run, the *other* questions' functions in
  the notebook are replaced by the reference implementations (a wrong KL cannot cost points in
  the ELBO question), and restored afterwards;
- the results are written to a JSON file after every check, so a kernel that hangs or dies in a
  check loses only the checks after it.

``base`` defines a check and its assertions (``expect``, ``expect_close``...); ``runner`` runs them.
"""

from .base import Check, CheckFailed, check, expect, expect_close, expect_shape
from .runner import LABS, PREPARE_SECONDS, CheckTimeout, load_lab, questions, run_checks

__all__ = [
    "LABS", "PREPARE_SECONDS", "Check", "CheckFailed", "CheckTimeout", "check", "expect", "expect_shape",
    "expect_close", "load_lab", "questions", "run_checks",
]
