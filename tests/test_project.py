"""The repository keeps its promises: synced dependency lists, a true README, clean notebooks."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml

from dgmlib.course import COURSE_MAP, course_map_markdown
from dgmlib.course.cli import main as course_main

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "lectures").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*.ipynb"))


def _normalize(req: str) -> str:
    return re.sub(r"\s+", "", req).lower()


def test_layout_exists():
    for name in ["lectures", "labs", "solutions", "dgmlib", "tests", "environment.yml", "pyproject.toml",
                 "README.md", "CONTRIBUTING.md", "Makefile", ".ci/run"]:
        assert (ROOT / name).exists(), name


def test_environment_yml_lists_exactly_the_pyproject_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_normalize(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    listed = {_normalize(r) for r in pip_section if not r.startswith("-e")}
    assert listed == declared, f"only in environment.yml: {listed - declared}; only in pyproject: {declared - listed}"
    assert "-e .[dev]" in pip_section


def test_torch_ranges_are_declared():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "torch>=2.4" in deps and "torchvision>=0.19" in deps


def test_readme_course_map_matches_the_repository():
    readme = (ROOT / "README.md").read_text()
    assert course_map_markdown() in readme, "README's course map is stale: paste `python -m dgmlib.course map`"


def test_readme_tells_the_two_commands_and_ci_runs_only_those():
    readme = (ROOT / "README.md").read_text()
    assert "make lab" in readme and "make test" in readme
    ci = [line.strip() for line in (ROOT / ".ci/run").read_text().splitlines()
          if line.strip() and not line.lstrip().startswith("#")]
    assert ci[-1] == "make test"
    assert all(line.startswith(("set ", "cd ", "make test")) for line in ci[1:] if line != ci[0])


def test_course_map_command_prints_the_readme_table_and_grade_is_a_subcommand(capsys):
    assert course_main(["map"]) == 0
    assert capsys.readouterr().out.strip() == course_map_markdown()
    with pytest.raises(SystemExit) as exit_info:
        course_main(["grade", "--help"])
    assert exit_info.value.code == 0 and "usage: python -m dgmlib.course grade" in capsys.readouterr().out


def test_import_dgmlib_loads_no_course_tooling(tmp_path):
    # the acceptance line, then every library submodule: none of them pulls in dgmlib.course
    code = ("import dgmlib, sys\n"
            "print([m for m in sys.modules if m.startswith('dgmlib') and 'grad' in m])\n"
            "import importlib\n"
            "for name in sorted(dgmlib._SUBMODULES):\n"
            "    importlib.import_module('dgmlib.' + name)\n"
            "print([m for m in sys.modules if m.startswith('dgmlib.course')])\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "HOME": str(tmp_path),
                               "MPLCONFIGDIR": str(tmp_path / "mpl")})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.splitlines() == ["[]", "[]"]


def test_course_map_lists_each_existing_notebook():
    mapped = {e.path for e in COURSE_MAP}
    for nb in NOTEBOOKS:
        assert str(nb.relative_to(ROOT)) in mapped, f"{nb.name} is missing from dgmlib.course.COURSE_MAP"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_with_a_clean_full_run(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), "run top to bottom with `make notebooks`"
    text = nbformat.writes(nb)
    for cell in code:
        for out in cell.outputs:
            assert out.output_type != "error", f"stored error in cell {cell.execution_count}"
            assert not (out.output_type == "stream" and out.name == "stderr"), (
                f"stderr (a warning or progress bar) stored in cell {cell.execution_count}: {out.text[:200]}"
            )
    assert "/work/" not in text and "/home/" not in text and "/Users/" not in text, "absolute path in outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_training_lengths_go_through_budget(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and re.search(r"\bfit\(|epochs\s*=", cell.source):
            assert "budget(" in cell.source or "epochs=epochs" in cell.source, (
                f"a training cell without budget(): {cell.source[:120]}"
            )
            assert "nbval-ignore-output" in cell.metadata.get("tags", []), (
                "a training cell's output depends on the run length: tag it nbval-ignore-output"
            )
