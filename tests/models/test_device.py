"""Device choice, weight dtypes and size caps (CPU here; CUDA faked for the rules),
and what leaves models/: float32 numpy on the CPU."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from models import device
from models.analysis import analyze
from models.device import choose_device, params_cap, to_model, to_numpy, weight_dtype
from models.errors import AnatomyError
from models.lenses.background import embedding_matrix
from models.lenses.generation import forward_logits
from models.lenses.logit_lens import lens_logits
from models.lenses.walkthrough import walk_through
from models.loading.load import load_model
from models.results import get_analysis
from models.settings import settings

GB = 1024**3


@pytest.fixture
def fresh_plan():
    """Forget the process's device choice before and after the test."""
    device.device_plan.cache_clear()
    yield
    device.device_plan.cache_clear()


@pytest.fixture
def fake_cuda(monkeypatch, fresh_plan):
    """torch says a 16 GB card without bfloat16 (a T4) is there, 15 GB of it free."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda *a: (15 * GB, 16 * GB))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "Fake T4")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    monkeypatch.delenv("ANATOMY_DEVICE", raising=False)
    monkeypatch.delenv("ANATOMY_MAX_PARAMS", raising=False)
    monkeypatch.delenv("ANATOMY_MAX_MODEL_BYTES", raising=False)


@pytest.mark.parametrize(
    ("requested", "cuda", "expected"),
    [
        (None, False, "cpu"),
        ("auto", False, "cpu"),
        ("auto", True, "cuda"),
        (" AUTO ", True, "cuda"),
        ("cpu", True, "cpu"),
        ("cuda", True, "cuda"),
    ],
)
def test_device_follows_anatomy_device(requested, cuda, expected):
    assert choose_device(requested, cuda) == expected


def test_cuda_without_cuda_and_unknown_devices_are_refused():
    with pytest.raises(RuntimeError, match="torch.cuda.is_available"):
        choose_device("cuda", False)
    with pytest.raises(ValueError, match="auto, cpu, cuda"):
        choose_device("tpu", True)


@pytest.mark.parametrize(
    ("device_name", "bf16", "saved", "expected"),
    [
        ("cpu", False, "bfloat16", torch.float32),  # never half precision on the CPU
        ("cpu", True, torch.float16, torch.float32),
        ("cuda", True, "float32", torch.bfloat16),
        ("cuda", True, torch.bfloat16, torch.bfloat16),
        ("cuda", False, torch.float16, torch.float16),  # T4 / V100: no bfloat16
        ("cuda", False, "float16", torch.float16),
        ("cuda", False, "bfloat16", torch.float32),  # bf16-trained weights overflow fp16
        ("cuda", False, torch.bfloat16, torch.float32),
        ("cuda", False, "float32", torch.float32),  # so may float32 ones (dequantized Gemma)
        ("cuda", False, None, torch.float32),
    ],
)
def test_weight_dtype_rules(device_name, bf16, saved, expected):
    assert weight_dtype(device_name, bf16, saved) == expected


def test_forced_dtype():
    assert weight_dtype("cuda", True, "bfloat16", forced="float32") == torch.float32
    assert weight_dtype("cuda", False, "bfloat16", forced="float16") == torch.float16
    assert weight_dtype("cpu", False, None, forced="auto") == torch.float32
    with pytest.raises(ValueError, match="ANATOMY_DEVICE=cuda"):
        weight_dtype("cpu", False, None, forced="bfloat16")
    with pytest.raises(ValueError, match="ANATOMY_DTYPE"):
        weight_dtype("cuda", True, None, forced="int8")


def test_parameter_cap_follows_free_memory():
    assert 2.5e9 < params_cap(15 * GB, bytes_per_param=2) < 3.5e9  # ~3B on a 16 GB card
    assert params_cap(15 * GB, bytes_per_param=4) == params_cap(15 * GB, 2) // 2
    assert params_cap(80 * GB, 2) > 10 * params_cap(7 * GB, 2)


def test_this_machine_runs_on_the_cpu_with_the_cpu_limits(monkeypatch, fresh_plan):
    monkeypatch.delenv("ANATOMY_DEVICE", raising=False)
    monkeypatch.delenv("ANATOMY_MAX_PARAMS", raising=False)
    plan = device.device_plan()
    assert (plan.name, plan.is_cuda) == ("cpu", False)
    assert settings().max_params == 600_000_000
    assert settings().max_model_bytes == 3 * GB
    assert device.dtype_for("bfloat16") == torch.float32


def test_faked_cuda_sets_dtype_and_caps(fake_cuda):
    plan = device.device_plan()
    assert plan.name == "cuda" and not plan.bf16
    assert "Fake T4" in plan.label and "15.0 GB free" in plan.label
    assert 1.25e9 < settings().max_params < 1.75e9  # float32 weights: half of ~3B
    assert settings().max_model_bytes == int(15 * GB * device.LOADED_SHARE)
    assert device.dtype_for("bfloat16") == torch.float32
    assert device.dtype_for("float16") == torch.float16


def test_faked_bf16_card_halves_the_weights(fake_cuda, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    plan = device.device_plan()
    assert plan.bf16 and 2.5e9 < plan.max_params < 3.5e9  # ~3B on a 16 GB card
    assert device.dtype_for("float32") == torch.bfloat16
    assert device.dtype_for("bfloat16") == torch.bfloat16


def test_env_limits_still_win_over_the_device(fake_cuda, monkeypatch):
    monkeypatch.setenv("ANATOMY_MAX_PARAMS", "1000")
    assert settings().max_params == 1000


def test_anatomy_device_cpu_ignores_a_present_gpu(fake_cuda, monkeypatch):
    monkeypatch.setenv("ANATOMY_DEVICE", "cpu")
    assert device.device_plan().name == "cpu"
    assert settings().max_params == 600_000_000


def test_device_is_chosen_once(fake_cuda, monkeypatch):
    first = device.device_plan()
    monkeypatch.setenv("ANATOMY_DEVICE", "cpu")
    assert device.device_plan() is first


def test_to_numpy_gives_float32_on_the_cpu():
    half = torch.tensor([[0.5, 1.25]], dtype=torch.bfloat16)
    assert to_numpy(half).dtype == np.float32
    np.testing.assert_array_equal(to_numpy(half), [[0.5, 1.25]])
    assert to_numpy(torch.tensor([3, 4])).dtype == np.int64


def test_to_model_casts_floats_to_the_weights_dtype():
    layer = torch.nn.Linear(4, 2).to(torch.bfloat16)
    values = np.ones((3, 4), dtype=np.float32)
    assert to_model(values, layer).dtype == torch.bfloat16
    assert to_model(np.arange(3), layer).dtype == torch.int64
    same = to_model(values, torch.nn.Linear(4, 2))
    assert same.dtype == torch.float32 and same.data_ptr() == values.ctypes.data  # no copy


def test_every_model_output_is_float32_numpy_on_the_cpu(tiny):
    model_id = tiny["tiny-llama-gqa"]
    analysis = get_analysis(model_id, "The capital of France is")
    floats = [
        analysis.token_embeddings,
        analysis.hidden_states,
        analysis.attentions,
        analysis.logits_last,
        analysis.top_logits,
        analysis.logsumexp,
        analysis.target_logprobs,
        forward_logits(model_id, None, tuple(int(i) for i in analysis.input_ids)),
        lens_logits(analysis),
        walk_through(analysis, 1, 2, 3).weights,
        embedding_matrix(model_id),
    ]
    for array in floats:
        assert isinstance(array, np.ndarray) and array.dtype == np.float32
    assert analysis.input_ids.dtype == np.int64 and analysis.top_ids.dtype == np.int64


def test_a_bfloat16_model_gives_float32_numbers_close_to_float32(tiny):
    """What CUDA does, on the CPU: half-precision weights in, float32 numpy out."""
    loaded = load_model(tiny["tiny-llama-gqa"])
    exact = analyze(loaded, "The capital of France is")
    half = type(loaded)(**{**vars(loaded), "model": _bf16_copy(loaded.model)})
    approx = analyze(half, "The capital of France is")
    assert approx.attentions.dtype == np.float32 and approx.logits_last.dtype == np.float32
    np.testing.assert_allclose(approx.attentions.sum(-1), 1.0, atol=2e-2)
    np.testing.assert_allclose(approx.attentions, exact.attentions, atol=3e-2)


def _bf16_copy(model: torch.nn.Module) -> torch.nn.Module:
    import copy

    return copy.deepcopy(model).to(torch.bfloat16)


def test_anatomy_error_pickles_with_its_key_and_params():
    """On ZeroGPU errors cross from the GPU worker pickled: the key must survive."""
    error = AnatomyError("too long", key="error.too_many_tokens", count=600, limit=512)
    again = pickle.loads(pickle.dumps(error))
    assert (type(again), str(again), again.key, again.params) == (
        AnatomyError,
        "too long",
        "error.too_many_tokens",
        {"count": 600, "limit": 512},
    )
