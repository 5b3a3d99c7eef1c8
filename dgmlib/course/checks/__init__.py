"""The hidden checks of the labs. Instructor-only: ``python -m dgmlib.course release`` leaves them out.

One module per lab (``lab1_vae``, ``lab2_gan``, ``lab3_flows``) holds a list ``CHECKS`` of
:class:`Check` and ``REFERENCE_API``, the library functions that answer its questions (the
sandbox replaces them by stubs that raise). A check is split so that nothing that decides points
runs beside the student's code (see :mod:`.base`): its inputs are drawn and its outputs judged in
the grader's process; only its probe, which calls the student's functions, runs in the kernel
(:mod:`.harness`: time limit per probe, fixed seed, prints swallowed, the other questions'
functions replaced by stand-ins). :mod:`.runner` puts them together.
"""

from .base import Check, CheckFailed, check, expect, expect_close, expect_shape
from .runner import (LABS, NOT_DEFINED, judge_question, load_lab, question_cell, question_checks, question_inputs,
                     question_limit, questions, reference_api, run_checks, unjudged)

__all__ = [
    "LABS", "NOT_DEFINED", "Check", "CheckFailed", "check", "expect", "expect_shape", "expect_close", "load_lab",
    "questions", "question_checks", "question_cell", "question_inputs", "question_limit", "judge_question",
    "unjudged", "reference_api", "run_checks",
]
