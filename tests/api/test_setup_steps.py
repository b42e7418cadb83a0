"""The Dockerfile's build, replayed without Docker.

There is no Docker engine here, so this test checks that the Dockerfile is the
Makefile's set-up and nothing else, then runs that set-up the way the image
build does: in a fresh folder holding only the files the Dockerfile copies
before its `RUN make setup`, with a brand-new virtual environment (pip may reuse
its local wheels). Then it adds the rest of the build context (minus
.dockerignore) and starts the image's CMD, which must serve the page.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO, launched_app

DOCKERFILE = (REPO / "Dockerfile").read_text(encoding="utf-8")


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with line continuations joined."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


def env_settings() -> dict[str, str]:
    settings = {}
    for keyword, rest in instructions():
        if keyword == "ENV":
            for match in re.finditer(r'(\w+)=("[^"]*"|\S+)', rest):
                settings[match.group(1)] = match.group(2).strip('"')
    return settings


def copied_before_setup() -> list[str]:
    """Sources of the COPY instructions that come before `RUN make setup`."""
    sources: list[str] = []
    for keyword, rest in instructions():
        if keyword == "RUN" and rest.startswith("make setup"):
            return sources
        if keyword == "COPY":
            parts = [p for p in rest.split() if not p.startswith("--")]
            sources += parts[:-1]
    raise AssertionError("the Dockerfile never runs `make setup`")


def dockerignore_patterns() -> list[str]:
    lines = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return [line.strip().rstrip("/") for line in lines if line.strip() and line[0] != "#"]


def ignored(relative: str, patterns: list[str]) -> bool:
    parts = relative.split("/")
    for pattern in patterns:
        bare = pattern.removeprefix("**/")
        if fnmatch.fnmatch(relative, pattern) or any(fnmatch.fnmatch(p, bare) for p in parts):
            return True
    return False


def copy_build_context(build: Path) -> None:
    """What `COPY . .` adds: every file not matched by .dockerignore (kept ones win)."""
    patterns = dockerignore_patterns()
    for folder, subfolders, files in os.walk(REPO):
        here = Path(folder).relative_to(REPO)
        subfolders[:] = [d for d in subfolders if not ignored((here / d).as_posix(), patterns)]
        for name in files:
            relative = (here / name).as_posix()
            if not ignored(relative, patterns) and not (build / relative).exists():
                (build / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / relative, build / relative)


def test_dockerfile_is_the_makefile_setup_on_python_311_as_uid_1000():
    steps = instructions()
    assert steps[0] == ("FROM", "python:3.11-slim")
    runs = [rest for keyword, rest in steps if keyword == "RUN"]
    assert any("useradd" in r and "--uid 1000" in r for r in runs)
    assert ("USER", "user") in steps
    setup_runs = [r for r in runs if r.startswith("make ")]
    assert len(setup_runs) == 1 and setup_runs[0].startswith("make setup ")
    assert not [r for r in runs if "pip" in r], "installs belong in the Makefile, not here"
    env = env_settings()
    assert env["GRADIO_SERVER_NAME"] == "0.0.0.0"
    assert env["GRADIO_SERVER_PORT"] == "7860"
    assert env["GRADIO_ANALYTICS_ENABLED"] == "False"
    assert ("EXPOSE", "7860") in steps
    assert steps[-1] == ("CMD", '["python", "app.py"]')
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    for requirement in ("requirements.txt", "requirements-models.txt", "models/"):
        assert requirement in " ".join(copied_before_setup())
        assert requirement.rstrip("/") in makefile


def test_readme_front_matter_describes_a_gradio_space():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    front = readme.split("---")[1]
    fields = dict(line.split(":", 1) for line in front.strip().splitlines())
    fields = {k.strip(): v.strip().strip('"') for k, v in fields.items()}
    assert fields["sdk"] == "gradio"
    requirements = (REPO / "requirements.txt").read_text(encoding="utf-8")
    pinned = re.search(r"^gradio==([\d.]+)$", requirements, re.M).group(1)
    assert fields["sdk_version"] == pinned
    assert fields["python_version"] == "3.11"
    assert (REPO / fields["app_file"]).is_file()
    assert fields["license"] and fields["title"]


@pytest.mark.timeout(1800)
def test_setup_in_a_clean_environment_then_the_image_command_serves(tmp_path):
    python = shutil.which("python3.11") or sys.executable
    build = tmp_path / "app"
    build.mkdir()
    for source in copied_before_setup():
        origin = REPO / source
        if origin.is_dir():
            shutil.copytree(origin, build / source, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(origin, build / source)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "ANATOMY_"))}
    # No byte-compiling: the image build may compile, the replay only has to install.
    env |= {"HF_HUB_OFFLINE": "1", "PIP_NO_INPUT": "1", "PIP_NO_COMPILE": "1"}
    started = time.monotonic()
    # TORCH_PIP_OPTS stays empty: the image points it at the PyTorch CPU index,
    # which this offline machine cannot reach (its pip finds the CPU wheel locally).
    result = subprocess.run(
        ["make", "setup", f"PYTHON={python}", "TORCH_PIP_OPTS="],
        cwd=build,
        env=env,
        capture_output=True,
        text=True,
        timeout=1700,  # ~5 min on an idle machine; writing torch to disk dominates
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    print(f"make setup in a clean folder: {time.monotonic() - started:.0f} s")
    venv_python = build / ".venv" / "bin" / "python"
    assert venv_python.exists() and (build / ".cache" / "models" / ".stamp-prepared").exists()

    # The image's COPY . . (minus .dockerignore), then its CMD.
    copy_build_context(build)
    assert not (build / ".git").exists()
    app_env = env | {"PATH": f"{venv_python.parent}:{env['PATH']}"}
    with launched_app(["python", "app.py"], app_env, tmp_path / "app.log", cwd=build) as (url, _):
        page = urllib.request.urlopen(url, timeout=10).read().decode("utf-8", "replace")
        assert "gradio" in page.lower()
    prepared = [p.name for p in (build / ".cache" / "models").iterdir() if p.is_dir()]
    assert sorted(prepared) == ["HuggingFaceTB--SmolLM2-135M-Instruct", "google--gemma-3-270m"]
