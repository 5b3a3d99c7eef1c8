"""The autograder: full marks for the solutions, 0 for the stubs, exactly the planted bug's points lost,
and a hanging, crashing, flooding, broken or incomplete submission graded without stopping the run.

The notebooks are graded once, by one `python -m dgmlib.course grade` call on a folder (module fixture);
the tests read its gradebook, its JSON results and its report.
"""

import csv
import hashlib
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import torch

from dgmlib.course import grader
from dgmlib.course.checks import load_lab, questions, run_checks
from dgmlib.course.grader.sandbox import sandbox_missing

ROOT = Path(__file__).resolve().parent.parent
LABS = ("lab1_vae", "lab2_gan", "lab3_flows")
HAVE_NOTEBOOKS = all((ROOT / d / f"{lab}.ipynb").exists() for d in ("solutions", "labs") for lab in LABS)
TIMEOUT_CELL = 60  # the fixture's hanging cell costs this much; a slower solution cell would not cost points
MODE = "required" if sandbox_missing() is None else "off"  # bubblewrap is installed by `make test` where it can be


def _status(r):
    """The status without the warning that an unsandboxed run (no bubblewrap here) adds."""
    return r["status"].replace("; " + grader.batch.UNSANDBOXED, "")


# ---------------------------------------------------------------------------------------------
# building the submissions from the solutions' source text


def _solution(lab):
    return nbformat.read(ROOT / "solutions" / f"{lab}.ipynb", as_version=4)


def _plant(nb, name, replacement):
    """Rename the notebook's ``def/class name`` and define ``replacement`` (a wrong version) after it, in its cell."""
    for cell in nb.cells:
        if cell.cell_type == "code" and re.search(rf"^(def|class) {name}\b", cell.source, re.M):
            cell.source = re.sub(rf"^(def|class) {name}\b", rf"\1 _{name}_right", cell.source, count=1, flags=re.M)
            cell.source += "\n\n\n" + replacement
            return nb
    raise LookupError(f"no cell defines {name}")


KL_SIGN = "def kl_gaussian(mu, logvar):\n    return -_kl_gaussian_right(mu, logvar)  # the sign error\n"
SATURATING = "def generator_loss(d_fake):\n    return -torch.nn.functional.softplus(d_fake).mean()  # mean log(1 - D(G(z)))\n"
NO_LOG_DET = (
    "class Coupling(_Coupling_right):\n"
    "    def forward(self, x):\n"
    "        z, log_det = super().forward(x)\n"
    "        return z, torch.zeros_like(log_det)  # the log-det term forgotten\n"
)


def _abuse():
    """Lab 2's solution, plus: a crashing cell, a cell that kills the kernel, stderr noise, 5 MB of
    prints, a deleted function, a graded function that never returns, and a cell that never ends."""
    nb = _solution("lab2_gan")
    new = nbformat.v4.new_code_cell
    first = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    nb.cells[first + 1:first + 1] = [
        new('raise RuntimeError("this cell crashes")'),
        new("import os\nos._exit(1)  # kills the kernel"),
        new('import sys, warnings\nwarnings.warn("a warning on stderr")\n'
            'for i in range(200):\n    print(f"\\r{i / 2:.0f}%|####|", end="", file=sys.stderr)'),
        new('for _ in range(20):\n    print("x" * 250_000)'),
    ]
    nb.cells += [new("del interpolate"), new("def sample(generator, n):\n    while True:\n        pass"),
                 new("while True:\n    pass")]
    return nb


def _hash(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    if not HAVE_NOTEBOOKS:
        pytest.skip("the solution notebooks and labs/ are not there yet")
    folder = tmp_path_factory.mktemp("submissions")
    for lab in LABS:
        nbformat.write(_solution(lab), folder / f"solution_{lab}.ipynb")
        (folder / f"untouched_{lab}.ipynb").write_bytes((ROOT / "labs" / f"{lab}.ipynb").read_bytes())
    nbformat.write(_plant(_solution("lab1_vae"), "kl_gaussian", KL_SIGN), folder / "bug_kl_sign.ipynb")
    nbformat.write(_plant(_solution("lab2_gan"), "generator_loss", SATURATING), folder / "bug_saturating.ipynb")
    nbformat.write(_plant(_solution("lab3_flows"), "Coupling", NO_LOG_DET), folder / "bug_no_log_det.ipynb")
    nbformat.write(_abuse(), folder / "abuse_lab2.ipynb")
    (folder / "broken_lab1.ipynb").write_text('{"cells": [ this is not json')
    before = {p.name: _hash(p) for p in folder.iterdir()}
    out = tmp_path_factory.mktemp("out")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "dgmlib.course", "grade", str(folder), "--jobs", "2", "--timeout-cell", str(TIMEOUT_CELL),
         "--csv", str(out / "gradebook.csv"), "--json", str(out / "results.json"), "--sandbox", MODE],
        cwd=out, env=env, capture_output=True, text=True, timeout=1200,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = {Path(r["submission"]).stem: r for r in json.loads((out / "results.json").read_text())}
    return {"folder": folder, "out": out, "stdout": proc.stdout, "results": results, "before": before}


def _points(result):
    return {q: info["points"] for q, info in result["questions"].items()}


def _full(lab):
    return questions(lab)


# ---------------------------------------------------------------------------------------------
# the acceptance tests


@pytest.mark.parametrize("lab", LABS)
def test_solutions_score_full_marks(graded, lab):
    r = graded["results"][f"solution_{lab}"]
    assert r["lab"] == lab and _status(r) == "ok"
    assert _points(r) == _full(lab), [c for q in r["questions"].values() for c in q["checks"] if c["feedback"] != "ok"]
    assert r["total"] == r["max"] == sum(_full(lab).values())


@pytest.mark.parametrize("lab", LABS)
def test_untouched_labs_score_zero_with_not_implemented_feedback(graded, lab):
    r = graded["results"][f"untouched_{lab}"]
    assert r["lab"] == lab and r["total"] == 0 and r["max"] == sum(_full(lab).values())
    for info in r["questions"].values():
        assert all(c["feedback"].startswith("not implemented") for c in info["checks"])
    assert r["written"] and not any(w["answered"] for w in r["written"])


@pytest.mark.parametrize("name, lab, question, says", [
    ("bug_kl_sign", "lab1_vae", "1.5", "KL = 1/2 sum_j"),
    ("bug_saturating", "lab2_gan", "2.4", "saturating"),
    ("bug_no_log_det", "lab3_flows", "3.7", "log|det J|"),
])
def test_a_planted_bug_loses_points_in_exactly_its_question(graded, name, lab, question, says):
    r = graded["results"][name]
    full = _full(lab)
    points = _points(r)
    assert points[question] < full[question]
    assert {q: p for q, p in points.items() if q != question} == {q: p for q, p in full.items() if q != question}
    feedback = " ".join(c["feedback"] for c in r["questions"][question]["checks"])
    assert says in feedback


def test_a_crashing_flooding_hanging_submission_with_a_deleted_function_is_graded(graded):
    r = graded["results"]["abuse_lab2"]
    points = _points(r)
    full = _full("lab2_gan")
    assert points["2.4"] == full["2.4"] and points["2.5"] == full["2.5"]  # the rest still graded, stderr costs nothing
    sample_checks = r["questions"]["2.6"]["checks"]
    assert points["2.6"] == 0 and sample_checks[0]["feedback"].startswith("did not finish within")
    assert sample_checks[1]["feedback"].startswith("skipped")
    assert points["2.7"] == 0
    assert all("`interpolate` is not defined" in c["feedback"] for c in r["questions"]["2.7"]["checks"])
    errors = " | ".join(r["cell_errors"])
    assert "RuntimeError: this cell crashes" in errors
    assert "killed the kernel; it was skipped in a fresh kernel" in errors and _status(r) == "ok"
    assert f"ran longer than {TIMEOUT_CELL} s and was stopped" in errors
    assert r["seconds"] < 600


def test_an_invalid_notebook_scores_zero_with_the_reason(graded):
    r = graded["results"]["broken_lab1"]
    assert r["status"].startswith("not a valid notebook") and r["total"] == 0
    assert r["lab"] == "lab1_vae"  # from the file name, so the row still has its columns
    assert all(c["feedback"].endswith("not a valid notebook") for q in r["questions"].values() for c in q["checks"])


def test_submissions_are_never_changed(graded):
    assert {p.name: _hash(p) for p in graded["folder"].iterdir()} == graded["before"]


def test_gradebook_has_one_row_per_submission_and_one_column_per_question(graded):
    with open(graded["out"] / "gradebook.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    all_questions = [f"Q{q}" for lab in LABS for q in _full(lab)]
    header = list(rows[0].keys())
    assert header[:len(all_questions) + 5] == ["submission", "lab", *all_questions, "total", "max", "status"]
    written = header[len(all_questions) + 5:]  # empty columns for the points given by hand
    assert "W1.1" in written and "W3.8" in written and all(row[w] == "" for row in rows for w in written)
    assert sorted(row["submission"] for row in rows) == sorted(p.name for p in graded["folder"].iterdir())
    for row in rows:
        lab = row["lab"]
        own = [f"Q{q}" for q in _full(lab)]
        assert math.isclose(sum(float(row[c]) for c in own), float(row["total"]))
        assert float(row["max"]) == sum(_full(lab).values())
        assert all(row[c] == "" for c in all_questions if c not in own)
    by_name = {row["submission"]: row for row in rows}
    assert by_name["solution_lab2_gan.ipynb"]["Q2.4"] == "6" and by_name["bug_saturating.ipynb"]["Q2.4"] == "3"
    assert by_name["broken_lab1.ipynb"]["total"] == "0"


def test_written_answers_are_listed_for_grading_by_hand(graded):
    report = (graded["out"] / "gradebook_written.md").read_text()
    sol = _solution("lab1_vae")
    written = [c for c in sol.cells if c.metadata.get("dgm", {}).get("written")]
    assert "## solution_lab1_vae.ipynb (lab1_vae)" in report
    for cell in written:
        assert f"### Question {cell.metadata['dgm']['question']}" in report
    a_line = next(line for line in written[0].source.splitlines() if len(line) > 40)
    assert "> " + a_line in report
    assert "(not answered)" in report.split("\n## untouched_lab1_vae.ipynb")[1].split("\n## ")[0]


def test_the_report_gives_points_per_question_and_feedback(graded):
    out = graded["stdout"]
    block = out.split("bug_saturating.ipynb")[1].split("== ")[0]
    assert "Question 2.4      3 / 6" in block and "saturating" in block
    stub = out.split("untouched_lab3_flows.ipynb")[1].split("== ")[0]
    assert "not implemented yet" in stub and "Question 3.7      0 / 8" in stub
    assert "written answers, to grade by hand: 3.1" in stub


# ---------------------------------------------------------------------------------------------
# the pieces, without a kernel


def test_identify_lab_reads_metadata_then_question_numbers_then_the_file_name():
    cell = {"cell_type": "code", "metadata": {"dgm": {"question": "3.7"}}, "source": ""}
    assert grader.identify_lab({"metadata": {"dgm": {"lab": "lab2_gan"}}, "cells": [cell]}) == "lab2_gan"
    assert grader.identify_lab({"metadata": {}, "cells": [cell, cell]}, "lab1_whatever.ipynb") == "lab3_flows"
    assert grader.identify_lab({"metadata": {}, "cells": []}, "smith_Lab-2.ipynb") == "lab2_gan"
    assert grader.identify_lab({"metadata": {}, "cells": []}, "homework.ipynb") is None


def test_grade_paths_rejects_a_missing_path_and_a_bad_jobs_count(tmp_path):
    with pytest.raises(ValueError, match="PATH must be a notebook or a folder"):
        grader.grade_paths([tmp_path / "nope.ipynb"])
    with pytest.raises(ValueError, match="jobs must be an int >= 1"):
        grader.grade_paths([tmp_path], jobs=0)


def test_a_notebook_that_names_no_lab_is_reported_not_graded(tmp_path):
    path = tmp_path / "homework.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), path)
    r = grader.grade_notebook(path, sandbox=MODE)
    assert r["lab"] is None and r["status"].startswith("cannot tell which lab") and r["total"] == 0


def _solution_namespace(lab):
    """The solution's first code cell (imports, helpers, data) and its graded definitions, run here."""
    ns = {}
    nb = _solution(lab)
    exec(next(c for c in nb.cells if c.cell_type == "code").source, ns)  # imports, helpers, data
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.metadata.get("dgm", {}).get("question"):
            exec(cell.source, ns)
    return ns


@pytest.mark.parametrize("lab, graded_questions", [
    ("lab1_vae", ("1.2", "1.4", "1.5", "1.9", "1.10", "1.12")),
    ("lab2_gan", ("2.4", "2.6", "2.7")),
    ("lab3_flows", ("3.4", "3.6", "3.8")),
])
def test_solution_functions_pass_every_check_and_no_function_passes_nothing(tmp_path, lab, graded_questions):
    """The probes run in this process here (no kernel); their outputs are judged as the grader judges them."""
    out = tmp_path / "r.json"
    results = run_checks(lab, _solution_namespace(lab), str(out), only=graded_questions)
    assert results and all(r["feedback"] == "ok" for r in results), [r for r in results if r["feedback"] != "ok"]
    assert json.loads(out.read_text()) == results
    empty = run_checks(lab, {}, str(out), only=graded_questions)
    assert all(r["points"] == 0 and "is not defined" in r["feedback"] for r in empty)


def test_a_question_is_graded_with_the_other_questions_replaced_by_references(tmp_path):
    ns = _solution_namespace("lab1_vae")
    right = ns["kl_gaussian"]
    wrong = ns["kl_gaussian"] = lambda mu, logvar: -right(mu, logvar)  # wrong

    def negative_elbo(x, logits, mu, logvar):  # right, but calls the wrong KL through the globals
        bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
        return (bce + ns["kl_gaussian"](mu, logvar)).mean()

    ns["negative_elbo"] = negative_elbo
    results = run_checks("lab1_vae", ns, str(tmp_path / "r.json"), only=("1.5", "1.9"))
    by_q = {}
    for r in results:
        by_q[r["question"]] = by_q.get(r["question"], 0) + r["points"]
    assert by_q == {"1.5": 1.0, "1.9": 4.0}  # only the zero-KL check of 1.5 passes; 1.9 keeps all its points
    assert ns["kl_gaussian"] is wrong  # restored after the checks


def test_a_hanging_function_is_stopped_by_the_check_time_limit(tmp_path):
    def interpolate(z0, z1, steps):
        while True:
            pass

    ns = {**_solution_namespace("lab2_gan"), "interpolate": interpolate}
    results = run_checks("lab2_gan", ns, str(tmp_path / "r.json"), timeout_scale=0.1, only=("2.7",))
    assert [r["feedback"].split(" (")[0] for r in results] == [
        "did not finish within 1 s", "skipped: an earlier check of this question ran out of time"]


def test_prints_inside_checks_are_swallowed_and_errors_become_feedback(tmp_path, capsys):
    def bits_per_dim(log_p_y, num_dims):
        print("x" * 1_000_000)
        raise KeyError("oops")

    ns = {**_solution_namespace("lab3_flows"), "bits_per_dim": bits_per_dim}
    (result,) = run_checks("lab3_flows", ns, str(tmp_path / "r.json"), only=("3.8",))
    assert result["points"] == 0 and result["feedback"].startswith("raised KeyError: 'oops'")
    assert len(capsys.readouterr().out) < 1000


def test_run_checks_rejects_an_unknown_lab_and_a_bad_timeout_scale(tmp_path):
    with pytest.raises(ValueError, match="lab must be one of"):
        run_checks("lab4", {}, str(tmp_path / "r.json"))
    with pytest.raises(ValueError, match="timeout_scale must be a positive number"):
        run_checks("lab1_vae", {}, str(tmp_path / "r.json"), timeout_scale=0)


def test_every_check_has_points_and_a_named_question():
    for lab in LABS:
        checks = load_lab(lab).CHECKS
        assert checks and all(c.points > 0 and c.question.startswith(lab[3]) and c.needs for c in checks)


def test_the_notebook_time_limit_skips_the_later_cells(tmp_path):
    sources = ["import time"] + ["time.sleep(2)"] * 4 + ["def interpolate(a, b, n):\n    return None"]
    cells = [nbformat.v4.new_code_cell(src) for src in sources]
    path = tmp_path / "slow.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata={"dgm": {"lab": "lab2_gan"}}), path)
    before = _hash(path)
    r = grader.grade_notebook(path, timeout_notebook=5, sandbox=MODE)
    assert r["lab"] == "lab2_gan" and _status(r) == "notebook time limit reached"
    assert any(e.startswith("notebook time limit (5 s) reached: cell") for e in r["cell_errors"])
    assert all("`interpolate` is not defined" in c["feedback"] for c in r["questions"]["2.7"]["checks"])
    assert _hash(path) == before


def test_gradebook_cells_cannot_be_read_as_formulas_and_names_stay_on_one_line(tmp_path):
    """Issue 19, item 7: file names that start with =, +, -, @ land in the CSV as text (a leading '),
    and a newline in a name breaks neither the CSV row nor the written-answers Markdown."""
    from dgmlib.course.grader.reports import write_gradebook, write_written_answers

    names = ['=HYPERLINK("x").ipynb', "+1+1.ipynb", "-2.ipynb", "@SUM(A1).ipynb", "two\nlines.ipynb", "ok.ipynb"]
    results = [{"submission": str(tmp_path / n), "lab": "lab1_vae", "questions": {"1.1": {"points": 1.0, "max": 2.0, "checks": []}},
                "total": 1.0, "max": 2.0, "status": "=1+1" if n == "ok.ipynb" else "ok", "cell_errors": [],
                "written": [{"question": "1.2", "answered": True, "text": "an answer"}]} for n in names]
    path = write_gradebook(results, tmp_path / "gradebook.csv")
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert len(rows) == 1 + len(names)                                         # no row split by a newline
    cells = [row[0] for row in rows[1:]]
    assert cells[:4] == ["'" + n for n in names[:4]] and cells[4] == "two lines.ipynb" and cells[5] == "ok.ipynb"
    assert rows[-1][rows[0].index("status")] == "'=1+1"
    md = write_written_answers(results, tmp_path / "written.md").read_text(encoding="utf-8")
    assert "## two lines.ipynb (lab1_vae)" in md and "\nlines.ipynb" not in md


def test_disagreeing_lab_sources_are_reported_and_lab_overrides_them(tmp_path):
    """Issue 19, item 7: metadata saying lab 2 on a lab 1 notebook is no longer graded as lab 2 silently."""
    from dgmlib.course.grader.submission import lab_disagreement, lab_evidence

    q = lambda n: nbformat.v4.new_code_cell("", metadata={"dgm": {"question": n}})  # noqa: E731
    nb = nbformat.v4.new_notebook(cells=[q("1.1"), q("1.2"), q("1.3")], metadata={"dgm": {"lab": "lab2_gan"}})
    assert lab_evidence(nb, "smith_lab1.ipynb") == {"metadata": "lab2_gan", "questions": "lab1_vae", "file name": "lab1_vae"}
    assert lab_disagreement(nb, "smith_lab1.ipynb") == ("the lab sources disagree: metadata says lab2_gan, "
                                                          "questions says lab1_vae, file name says lab1_vae")
    agreeing = nbformat.v4.new_notebook(cells=[q("1.1")], metadata={"dgm": {"lab": "lab1_vae"}})
    assert lab_disagreement(agreeing, "lab1.ipynb") is None and lab_disagreement(agreeing) is None
    path = tmp_path / "smith_lab1.ipynb"
    nbformat.write(nb, path)
    silent = grader.grade_notebook(path, timeout_notebook=60, sandbox=MODE)
    assert silent["lab"] == "lab2_gan" and _status(silent).startswith("ok; the lab sources disagree: metadata says lab2_gan")
    forced = grader.grade_notebook(path, timeout_notebook=60, lab="lab1_vae", sandbox=MODE)
    assert forced["lab"] == "lab1_vae" and _status(forced).endswith("graded as lab1_vae (--lab)")
    assert set(forced["questions"]) == set(questions("lab1_vae")) and forced["total"] == 0
    with pytest.raises(ValueError, match="lab must be one of lab1_vae, lab2_gan, lab3_flows, got 'lab4'"):
        grader.grade_notebook(path, lab="lab4")


@pytest.mark.parametrize("lab", ["lab1_vae", "lab2_gan", "lab3_flows"])
def test_every_question_tagged_as_code_has_checks(lab):
    """Issue 19, item 7: a code question without checks would be worth nothing, silently (Q1.12 was)."""
    nb = nbformat.read(Path(__file__).parents[1] / "solutions" / f"{lab}.ipynb", as_version=4)
    tagged = {c.metadata["dgm"]["question"] for c in nb.cells
              if c.cell_type == "code" and isinstance(c.metadata.get("dgm"), dict) and c.metadata["dgm"].get("question")}
    assert tagged and tagged <= set(questions(lab)), sorted(tagged - set(questions(lab)))


# ---------------------------------------------------------------------------------------------
# issue 19: what enters the kernel, the references in the sandbox, the student release


@pytest.mark.parametrize("lab", LABS)
def test_the_code_sent_into_the_kernel_holds_no_reference_and_no_judge(lab):
    """Only probes (torch) enter the kernel: no import of the course, and no question's own stand-in."""
    from dgmlib.course.checks import question_cell, question_checks

    for q in questions(lab):
        cell = question_cell(lab, q, "in.pt", "out.pt")
        assert "dgmlib" not in cell and "CheckFailed" not in cell and "expect_close" not in cell
        for _, _, c in question_checks(lab, q):
            assert not set(c.needs) & set(c.isolate), f"{q} would replace its own answer by a stand-in"


def test_the_sandboxed_library_refuses_the_references_and_keeps_the_rest(tmp_path):
    import importlib.util

    from dgmlib.course.checks import reference_api
    from dgmlib.course.grader.sandbox import poisoned_modules

    api = reference_api()
    assert api["dgmlib.gaussian.kl_normal_std"] == "1.5" and api["dgmlib.flows.coupling.AffineCoupling"] == "3.7"
    copies = poisoned_modules(api, tmp_path)
    gaussian = next(c for o, c in copies.items() if o.endswith("dgmlib/gaussian.py"))
    spec = importlib.util.spec_from_file_location("dgmlib.gaussian", gaussian)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(RuntimeError, match=r"dgmlib.gaussian.kl_normal_std is the course's reference answer to "
                                           r"question 1.5") as err:
        module.kl_normal_std(torch.zeros(2, 3), torch.zeros(2, 3))
    assert type(err.value).__name__ == "ReferenceUnavailable"
    assert torch.allclose(module.log_normal_std(torch.zeros(1, 2)), torch.tensor([-math.log(2 * math.pi)]))
    coupling = next(c for o, c in copies.items() if o.endswith("flows/coupling.py"))
    assert "AffineCoupling = _dgm_unavailable('dgmlib.flows.coupling.AffineCoupling', '3.7', True)" in Path(
        coupling).read_text()


def test_the_student_release_has_labs_lectures_and_library_but_no_solutions_or_checks(tmp_path):
    from dgmlib.course.release import make_release

    written = {str(p.relative_to(tmp_path / "out")) for p in make_release(tmp_path / "out")}
    assert {f"labs/{lab}.ipynb" for lab in LABS} <= written and "dgmlib/gaussian.py" in written
    assert "README.md" in written and any(p.startswith("lectures/") for p in written)
    assert not any(p.startswith(("solutions/", "tests/", "dgmlib/course/checks/", "dgmlib/course/grader/"))
                   for p in written)
    with pytest.raises(ValueError, match="out must be a new folder"):
        make_release(tmp_path / "out")


def test_after_too_many_killer_cells_the_question_cells_are_still_graded(tmp_path):
    """Issue 19, item 6: cells that kill the kernel cost their own run, not the grade of the functions."""
    new = nbformat.v4.new_code_cell
    answer = new("import torch\n\n\ndef interpolate(z0, z1, steps):\n"
                 "    t = torch.linspace(0, 1, steps, dtype=z0.dtype)[:, None]\n    return z0 + t * (z1 - z0)",
                 metadata={"dgm": {"question": "2.7"}})
    cells = [new("import os")] + [new("os._exit(1)") for _ in range(grader.MAX_RESTARTS + 1)] + [answer]
    path = tmp_path / "killers_lab2.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata={"dgm": {"lab": "lab2_gan"}}), path)
    r = grader.grade_notebook(path, timeout_notebook=120, sandbox=MODE)
    assert _points(r)["2.7"] == 3 and _status(r) == "ok"
    errors = " | ".join(r["cell_errors"])
    assert errors.count("killed the kernel; it was skipped in a fresh kernel") == grader.MAX_RESTARTS + 1
    assert "the last kernel ran only the first code cell and the question cells" in errors
