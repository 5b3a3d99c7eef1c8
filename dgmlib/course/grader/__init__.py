"""The autograder of the labs: run a submission, then check its answers where the student cannot see.

    python -m dgmlib.course grade alice.ipynb                 # one submission: points and feedback
    python -m dgmlib.course grade submissions/ --csv grades.csv --jobs 8 [--json results.json]

For each notebook (a folder: every ``*.ipynb`` in it, sorted):

1. It is read (a file that is not a notebook scores 0, with the reason). Which lab it is comes
   from the notebook metadata ``dgm.lab``, else from the question numbers in the cells' ``dgm``
   metadata, else from the file name (``lab2``, ``lab2_gan``...). (``submission``)
2. It runs top to bottom in a fresh ``python3`` kernel inside its own bubblewrap sandbox
   (``sandbox``: read-only code and venv, the course tooling absent, the library's answers to the
   lab's questions replaced by stubs that raise, a private HOME and /tmp, no network, its own PID
   namespace, limits; ``--no-sandbox`` runs it unconfined, with a warning), in a private folder
   holding a copy of it (the submission file itself is only read), with ``DGMLIB_FAST=1`` (short
   trainings), no progress bars, errors allowed, a time limit per cell (an endless cell is
   interrupted and the next one runs) and one for the whole notebook (later cells are skipped).
   At most ``MAX_OUTPUT_CHARS`` of output per cell is kept: a cell that prints megabytes costs
   nothing. (``kernel``)
3. Then one question at a time: the grader draws the inputs of its checks, sends the question's
   probes (torch code that calls the student's functions, nothing that judges) into the kernel,
   reads their outputs back as data and judges them against the references in its own process
   (:mod:`dgmlib.course.checks`). A question whose probes kill the kernel or outlast their limit
   scores 0 with the reason; the next ones run in a fresh kernel. (``kernel``, ``batch``)

A question's points are the sum of its checks' (partial credit); every lost point comes with the
check's feedback. stderr (warnings, progress bars) is never looked at. Written answers (cells
with ``dgm.written``) are listed for grading by hand. For a folder, or with ``--csv``, a
gradebook is written: one row per submission, one column per auto-graded question, the total,
the maximum, a status, and an empty column per written question for the points given by hand; the
written answers themselves go to ``<csv stem>_written.md`` beside it. (``reports``)
Submissions are graded in parallel, ``--jobs`` at a time (default: the number of cores); the
gradebook is rewritten as each one finishes. (``cli``)
"""

from .batch import grade_notebook, grade_paths, submission_paths
from .cli import main
from .kernel import MAX_OUTPUT_CHARS, MAX_RESTARTS
from .reports import format_report, write_gradebook, write_written_answers
from .submission import identify_lab, written_answers

__all__ = ["identify_lab", "written_answers", "grade_notebook", "grade_paths", "submission_paths",
           "write_gradebook", "write_written_answers", "format_report", "main", "MAX_OUTPUT_CHARS",
           "MAX_RESTARTS"]
