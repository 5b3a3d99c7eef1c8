"""make-labs: solution regions become stubs, everything else is copied, and labs/ is never stale."""

import json
import re
from pathlib import Path

import pytest

from dgmlib.course.cli import main as course_main
from dgmlib.course.labs import ANSWER_STUB, lab_text, make_lab, make_labs, stale_labs, stub_code, stub_markdown

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))


# ---------------------------------------------------------------------------------------------
# the marker transform


def test_stub_code_keeps_the_code_around_a_region_and_the_markers_indentation():
    source = (
        "class Net(nn.Module):\n"
        "    def forward(self, x):\n"
        "        y = x + 1\n"
        "        ### BEGIN SOLUTION\n"
        "        secret = y * 2\n"
        "        return secret\n"
        "        ### END SOLUTION\n"
        "\n"
        "print('after')\n"
    )
    assert stub_code(source, "1.11") == (
        "class Net(nn.Module):\n"
        "    def forward(self, x):\n"
        "        y = x + 1\n"
        '        raise NotImplementedError("Question 1.11: write your code here")\n'
        "\n"
        "print('after')\n"
    )


def test_stub_code_replaces_every_region_of_a_cell_and_the_result_compiles():
    source = (
        "def f(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\n\n\n"
        "def g(x):\n    ### BEGIN SOLUTION\n    a = x\n    return a\n    ### END SOLUTION"  # no final newline
    )
    stubbed = stub_code(source, "2.4")
    assert stubbed.count('raise NotImplementedError("Question 2.4: write your code here")') == 2
    assert "return x + 1" not in stubbed and "a = x" not in stubbed
    assert stubbed.endswith('raise NotImplementedError("Question 2.4: write your code here")')
    compile(stubbed, "<lab>", "exec")
    namespace = {}
    exec(stubbed, namespace)
    with pytest.raises(NotImplementedError, match="Question 2.4"):
        namespace["g"](1)


def test_stub_code_leaves_a_cell_without_markers_unchanged():
    source = "x = 1\n# ### BEGIN SOLUTION is only a marker on its own line\n"
    assert stub_code(source, None) == source


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\nx = 1\n", "without a matching"),
    ("x = 1\n### END SOLUTION\n", "without BEGIN on line 2"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "nested"),
])
def test_stub_code_rejects_unbalanced_markers_naming_the_question(source, message):
    with pytest.raises(ValueError, match=message) as err:
        stub_code(source, "3.7")
    assert "question 3.7" in str(err.value)


def test_stub_code_rejects_a_non_string_source():
    with pytest.raises(TypeError, match="source must be a str"):
        stub_code(["x = 1\n"], "1.2")


def test_stub_markdown_replaces_each_region_inline_or_over_lines():
    source = ("Intro stays.\n<!-- BEGIN SOLUTION -->\nThe model answer,\nover lines.\n<!-- END SOLUTION -->\n"
              "Between. <!--BEGIN SOLUTION--> short <!--  END SOLUTION  --> end.")
    assert stub_markdown(source, "1.1") == f"Intro stays.\n{ANSWER_STUB}\nBetween. {ANSWER_STUB} end."


def test_stub_markdown_rejects_an_unclosed_region():
    with pytest.raises(ValueError, match="question 1.3: unbalanced"):
        stub_markdown("<!-- BEGIN SOLUTION -->\nanswer", "1.3")


def _notebook():
    return {
        "cells": [
            {"cell_type": "markdown", "id": "a", "metadata": {"dgm": {"question": "1.1", "written": True}},
             "source": ["<!-- BEGIN SOLUTION -->\n", "Because.\n", "<!-- END SOLUTION -->"]},
            {"cell_type": "code", "id": "b", "execution_count": 3, "metadata": {"dgm": {"question": "1.5"}, "tags": ["t"]},
             "outputs": [{"output_type": "stream", "name": "stdout", "text": ["hi\n"]}],
             "source": ["def kl(m):\n", "    ### BEGIN SOLUTION\n", "    return m\n", "    ### END SOLUTION"]},
            {"cell_type": "code", "id": "c", "execution_count": 4, "metadata": {}, "outputs": [], "source": "print(kl(1))"},
        ],
        "metadata": {"dgm": {"lab": "lab1_vae"}, "kernelspec": {"name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5,
    }


def test_make_lab_clears_outputs_keeps_metadata_and_does_not_touch_its_input():
    nb = _notebook()
    before = json.dumps(nb, sort_keys=True)
    lab = make_lab(nb)
    assert json.dumps(nb, sort_keys=True) == before
    md, code, plain = lab["cells"]
    assert md["source"] == [ANSWER_STUB] and md["metadata"] == {"dgm": {"question": "1.1", "written": True}}
    assert code["source"] == ["def kl(m):\n", '    raise NotImplementedError("Question 1.5: write your code here")']
    assert code["outputs"] == [] and code["execution_count"] is None
    assert code["metadata"] == {"dgm": {"question": "1.5"}, "tags": ["t"]}
    assert plain["source"] == "print(kl(1))" and plain["execution_count"] is None
    assert lab["metadata"] == nb["metadata"] and [c["id"] for c in lab["cells"]] == ["a", "b", "c"]


def test_make_lab_rejects_what_is_not_a_notebook():
    with pytest.raises(TypeError, match="solution_nb must be a notebook dict"):
        make_lab({"metadata": {}})


def test_make_labs_is_byte_for_byte_deterministic_and_stale_labs_sees_a_change(tmp_path):
    src, dst = tmp_path / "solutions", tmp_path / "labs"
    src.mkdir()
    (src / "lab1_vae.ipynb").write_text(json.dumps(_notebook()))
    assert stale_labs(src, dst) == ["lab1_vae.ipynb"]  # missing
    written = make_labs(src, dst)
    first = written[0].read_bytes()
    assert stale_labs(src, dst) == []
    make_labs(src, dst)
    assert written[0].read_bytes() == first
    nb = _notebook()
    nb["cells"][2]["source"] = "print(kl(2))"
    (src / "lab1_vae.ipynb").write_text(json.dumps(nb))
    assert stale_labs(src, dst) == ["lab1_vae.ipynb"]  # changed
    (dst / "old_lab.ipynb").write_text("{}")
    make_labs(src, dst)
    assert stale_labs(src, dst) == ["old_lab.ipynb"]  # a lab without its solution


# ---------------------------------------------------------------------------------------------
# the committed labs/


pytestmark_solutions = pytest.mark.skipif(not SOLUTIONS, reason="no solution notebooks yet")


@pytestmark_solutions
def test_committed_labs_equal_a_fresh_generation_from_solutions():
    assert stale_labs() == [], "labs/ is out of date: run `python -m dgmlib.course make-labs`"
    for solution in SOLUTIONS:
        assert (ROOT / "labs" / solution.name).read_text(encoding="utf-8") == lab_text(solution)


@pytestmark_solutions
def test_make_labs_check_command_exits_zero_when_labs_are_fresh(capsys):
    assert course_main(["make-labs", "--check"]) == 0
    assert "out of date" not in capsys.readouterr().out


def _regions(text: str, begin: str, end: str) -> tuple[set[str], set[str]]:
    """Lines inside solution regions and lines outside them (stripped, non-empty)."""
    inside, outside, in_region = set(), set(), False
    for line in text.splitlines():
        in_region = in_region or begin in line
        (inside if in_region else outside).add(line.strip())
        in_region = in_region and end not in line
    return inside - {""}, outside - {""}


@pytestmark_solutions
@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.name)
def test_lab_has_a_stub_for_every_question_and_no_solution_text(solution):
    sol = json.loads(solution.read_text())
    lab = json.loads((ROOT / "labs" / solution.name).read_text())
    assert len(sol["cells"]) == len(lab["cells"])
    hidden, shown = set(), set()
    for s_cell, l_cell in zip(sol["cells"], lab["cells"]):
        s_src, l_src = "".join(s_cell["source"]), "".join(l_cell["source"])
        assert s_cell["metadata"] == l_cell["metadata"] and s_cell["cell_type"] == l_cell["cell_type"]
        if s_cell["cell_type"] == "code":
            assert l_cell["outputs"] == [] and l_cell["execution_count"] is None
            inside, outside = _regions(s_src, "### BEGIN SOLUTION", "### END SOLUTION")
        else:
            inside, outside = _regions(s_src, "<!-- BEGIN SOLUTION -->", "<!-- END SOLUTION -->")
        hidden |= inside
        shown |= outside
        if "BEGIN SOLUTION" in s_src:
            question = s_cell["metadata"]["dgm"]["question"]
            stub = f'NotImplementedError("Question {question}:' if s_cell["cell_type"] == "code" else ANSWER_STUB
            assert stub in l_src
        else:
            assert l_src == s_src
    text = (ROOT / "labs" / solution.name).read_text()
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    lab_lines = {line.strip() for c in lab["cells"] for line in "".join(c["source"]).splitlines()}
    leaked = [line for line in hidden - shown if line in lab_lines]
    assert not leaked, f"solution text in the lab: {leaked[:3]}"
    written = [c for c in sol["cells"] if c["metadata"].get("dgm", {}).get("written")]
    assert written, "the lab has written questions marked dgm.written"
    assert re.search(r"YOUR ANSWER HERE", text) and "NotImplementedError" in text
