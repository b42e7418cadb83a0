"""requirements.txt alone makes a Gradio SDK Space: everything pinned, torch included,
binary wheels only (pip resolves it with --only-binary=:all:), no bundled package."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib.metadata import version

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.api
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([\w.]+)$")


def requirement_lines(name: str) -> list[str]:
    lines = (REPO / name).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_every_requirement_is_pinned_and_is_what_this_venv_runs():
    pins = {}
    for line in requirement_lines("requirements.txt"):
        match = PIN.match(line)
        assert match, f"not pinned exactly: {line}"
        pins[match.group(1).lower()] = match.group(2)
    assert "torch" in pins and "gradio" in pins
    for name, pinned in pins.items():
        assert version(name).split("+")[0] == pinned, name


def test_no_bundled_package_nor_what_they_drag_in():
    names = {PIN.match(line).group(1).lower() for line in requirement_lines("requirements.txt")}
    bundled = {
        PIN.match(line).group(1).lower() for line in requirement_lines("requirements-models.txt")
    }
    assert not names & bundled
    assert not names & {"llama-cpp-python", "sentence-transformers", "spaces"}


def test_pip_resolves_it_from_binary_wheels_alone(tmp_path):
    report = tmp_path / "report.json"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "-q"),
            *("--only-binary=:all:", "--report", str(report), "-r", "requirements.txt"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    installs = json.loads(report.read_text())["install"]
    names = {item["metadata"]["name"].lower() for item in installs}
    assert {"torch", "gradio", "transformers", "accelerate", "gguf"} <= names
    assert all(item["download_info"]["url"].endswith(".whl") for item in installs)
