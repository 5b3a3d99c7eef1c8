"""`make lab` serves the course headless: the server answers and lists the welcome notebook."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"

pytestmark = pytest.mark.skipif(
    shutil.which("make") is None or Path(sys.prefix).resolve() != VENV.resolve() or not (VENV / ".installed").exists(),
    reason="needs the course venv made by `make install` and GNU make",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str):
    with urllib.request.urlopen(url, timeout=5) as response:  # loopback only
        return response.status, response.read().decode()


def test_make_lab_serves_the_course_headless(tmp_path):
    port, token = _free_port(), "dgm-test-token"
    env = {**os.environ, "JUPYTER_DATA_DIR": str(tmp_path / "data"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"),
           "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg")}
    args = f"--no-browser --ip=127.0.0.1 --port={port} --IdentityProvider.token={token}"
    proc = subprocess.Popen(["make", "lab", f"LAB_ARGS={args}"], cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 90
        while True:
            try:
                status, body = _get(f"{base}/api/contents/lectures?token={token}")
                break
            except urllib.error.HTTPError:
                raise  # the server answered, wrongly: fail with its status
            except OSError:  # not listening yet
                if proc.poll() is not None or time.time() > deadline:
                    _stop(proc)
                    pytest.fail(f"JupyterLab did not answer on port {port}:\n{proc.stdout.read()[-3000:]}")
                time.sleep(0.5)
        assert status == 200
        names = [item["name"] for item in json.loads(body)["content"]]
        assert "00_welcome.ipynb" in names
        status, page = _get(f"{base}/lab?token={token}")
        assert status == 200 and "JupyterLab" in page
        _, specs = _get(f"{base}/api/kernelspecs?token={token}")
        assert "dgm-course" in json.loads(specs)["kernelspecs"]  # make lab registered the course kernel
    finally:
        _stop(proc)


def _stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
