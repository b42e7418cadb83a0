"""ZeroGPU: the model-running functions go under spaces.GPU when `spaces` is importable,
and stay untouched (with `spaces` never imported) when it is not.

The fake `spaces` below does what ZeroGPU's does to a call that matters here: the
arguments, the result and any error cross a process boundary, so they are pickled.
"""

from __future__ import annotations

import json
import subprocess
import sys
import types
from importlib.machinery import ModuleSpec

import pytest

from models import device
from tests.conftest import REPO

# what the lead's block and attribution passes add to, once they use @gpu_task
MODEL_RUNNERS = {
    "models.results": "run_analysis",
    "models.lenses.generation": "forward_logits",
    "models.lenses.walkthrough": "walk_through",
    "models.lenses.logit_lens": "lens_logits",
    "models.lenses.background": "run_context_free",
}
FAKE_SPACES = """
import functools, pickle, sys, types
from importlib.machinery import ModuleSpec
WRAPPED, CALLS = [], []
def GPU(fn=None, *, duration=60):
    def decorate(function):
        WRAPPED.append((function.__module__, function.__qualname__, duration))
        @functools.wraps(function)
        def on_gpu(*args, **kwargs):
            CALLS.append(function.__qualname__)
            args, kwargs = pickle.loads(pickle.dumps((args, kwargs)))
            try:
                result = function(*args, **kwargs)
            except Exception as exc:
                raise pickle.loads(pickle.dumps(exc)) from None
            return pickle.loads(pickle.dumps(result))
        return on_gpu
    return decorate(fn) if fn is not None else decorate
spaces = types.ModuleType("spaces")
spaces.__spec__ = ModuleSpec("spaces", None)
spaces.GPU, spaces.WRAPPED, spaces.CALLS = GPU, WRAPPED, CALLS
sys.modules["spaces"] = spaces
"""
EXERCISE = """
import json, sys
import models.results, models.lenses.generation, models.lenses.walkthrough
import models.lenses.logit_lens, models.lenses.background
from models.errors import AnatomyError
from models.lenses.generation import generate
from models.lenses.logit_lens import logit_lens
from models.lenses.walkthrough import walk_through
from models.lenses.background import context_free_states
from models.results import get_analysis
model_id = sys.argv[1]
analysis = get_analysis(model_id, "The capital of France is")
steps = generate(analysis, 3, 1.0, 0, 1.0, greedy=True, seed=0)
# ids no text tokenizes to (the prompt twice, no BOS between) take the logits-only pass
from models.lenses.generation import LOGITS
from models.loading.load import load_model
odd = tuple(int(i) for i in analysis.input_ids) * 2
odd_top = int(LOGITS.get(load_model(model_id), None, odd).argmax())
rows = walk_through(analysis, 1, 0, 2)
lens = logit_lens(analysis)
states, ids = context_free_states(model_id)
try:
    get_analysis(model_id, "word " * 600)
    key = None
except AnatomyError as exc:
    key = exc.key
spaces = sys.modules.get("spaces")
print("RESULT " + json.dumps({
    "spaces_imported": spaces is not None,
    "wrapped": [list(w) for w in getattr(spaces, "WRAPPED", [])],
    "calls": sorted(set(getattr(spaces, "CALLS", []))),
    "unwrapped": {m: not hasattr(getattr(sys.modules[m], f), "__wrapped__")
                  for m, f in RUNNERS.items()},
    "generated": [s.chosen for s in steps],
    "odd_top": odd_top,
    "walk": rows.max_difference,
    "lens_layers": len(lens),
    "states": list(states.shape),
    "error_key": key,
}))
""".replace("RUNNERS", repr(MODEL_RUNNERS))


def run_exercise(model_id: str, with_spaces: bool, tmp_path) -> dict:
    script = tmp_path / "exercise.py"
    prefix = FAKE_SPACES if with_spaces else ""
    script.write_text(f"import sys\nsys.path.insert(0, {str(REPO)!r})\n{prefix}\n{EXERCISE}")
    done = subprocess.run(
        [sys.executable, str(script), model_id],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


@pytest.fixture(scope="module")
def both_ways(tiny, tmp_path_factory) -> tuple[dict, dict]:
    model_id = tiny["tiny-llama-gqa"]
    without = run_exercise(model_id, False, tmp_path_factory.mktemp("plain"))
    with_fake = run_exercise(model_id, True, tmp_path_factory.mktemp("zero"))
    return without, with_fake


def test_with_spaces_every_model_runner_is_wrapped_and_used(both_ways):
    _without, zero = both_ways
    wrapped = {(module, name) for module, name, _seconds in zero["wrapped"]}
    assert wrapped == set(MODEL_RUNNERS.items())
    assert set(zero["calls"]) == set(MODEL_RUNNERS.values())
    assert all(seconds == device.GPU_SECONDS for *_names, seconds in zero["wrapped"])


def test_without_spaces_nothing_is_wrapped_nor_imported(both_ways):
    plain, _zero = both_ways
    assert plain["spaces_imported"] is False
    assert all(plain["unwrapped"].values())


def test_results_are_the_same_either_way_and_errors_keep_their_key(both_ways):
    plain, zero = both_ways
    for field in ("generated", "odd_top", "lens_layers", "states", "error_key"):
        assert plain[field] == zero[field]
    assert plain["walk"] < 1e-4 and zero["walk"] < 1e-4
    assert zero["error_key"] == "error.too_many_tokens"


def test_gpu_task_in_process(monkeypatch):
    calls = []

    def fake_gpu(*, duration):
        def decorate(function):
            def on_gpu(*args):
                calls.append(duration)
                return function(*args)

            return on_gpu

        return decorate

    fake = types.ModuleType("spaces")
    fake.__spec__ = ModuleSpec("spaces", None)
    fake.GPU = fake_gpu

    def double(x):
        return 2 * x

    device.spaces_module.cache_clear()
    try:
        assert device.gpu_task(double) is double  # no `spaces` installed here
        monkeypatch.setitem(sys.modules, "spaces", fake)
        device.spaces_module.cache_clear()
        wrapped = device.gpu_task(duration=120)(double)
        assert wrapped is not double and wrapped(4) == 8 and calls == [120]
    finally:
        monkeypatch.delitem(sys.modules, "spaces")
        device.spaces_module.cache_clear()
    assert device.spaces_module() is None
