"""Where the models run: CPU or CUDA, chosen once at start, and ZeroGPU when present.

- `ANATOMY_DEVICE` = auto | cpu | cuda (auto: cuda when `torch.cuda.is_available()`).
- Weights: float32 on the CPU (half precision there gives wrong numbers). On CUDA,
  bfloat16 where the card computes in it natively. Cards without (T4, V100) get
  float16 only for checkpoints saved in float16; the others stay float32, since
  models trained in bfloat16 or float32 (Gemma, Llama 3, the dequantized bundled
  folders ...) can overflow float16. `ANATOMY_DTYPE` forces one.
- The parameter cap follows the device: 600M on the CPU; on CUDA, weights may take
  `WEIGHT_SHARE` of the free memory seen at start (the rest is for activations and
  the eager [L, H, T, T] attentions), so ~3B parameters in bfloat16 on a 16 GB card
  (half that on a card without bfloat16, where most weights stay float32).
- Whatever leaves models/ is float32 numpy on the CPU (`to_numpy`): components never
  see a device or a half-precision number.
- ZeroGPU Spaces: `gpu_task` wraps the functions that run a model in `spaces.GPU`
  when the `spaces` package is importable; elsewhere it returns them unchanged and
  `spaces` is never imported. On ZeroGPU such a function runs in a forked worker,
  so its arguments and results must pickle: model ids, text, numbers, numpy and
  Analysis records, never a LoadedModel. It finds its model with `load_model`,
  which the caller has loaded already (the worker sees the parent's loaded models).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar

import numpy as np
import torch

DEVICES = ("auto", "cpu", "cuda")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
CPU_MAX_PARAMS = 600_000_000
CPU_MAX_MODEL_BYTES = 3 * 1024**3
WEIGHT_SHARE = 0.4  # of the free device memory, for the weights of the largest model
LOADED_SHARE = 0.6  # of the free device memory, for the weights of all loaded models
ZERO_GPU_MEMORY_GB = 16  # assumed on ZeroGPU, where CUDA can't be asked in the main process
GPU_SECONDS = 60  # ZeroGPU time requested per call (spaces.GPU duration)

F = TypeVar("F", bound=Callable)


@dataclass(frozen=True)
class DevicePlan:
    """The device every model runs on, and the limits that follow from it."""

    name: str  # "cpu" | "cuda"
    bf16: bool  # the device computes in bfloat16
    free_bytes: int  # free device memory seen at start (0 on the CPU: not used)
    label: str  # for people: "cpu" or "cuda (NVIDIA L4, 22.0 GB free)"

    @property
    def is_cuda(self) -> bool:
        return self.name == "cuda"

    @property
    def max_params(self) -> int:
        """Largest model allowed, in parameters: two bytes each where the card has
        bfloat16, four where most weights stay float32."""
        if not self.is_cuda:
            return CPU_MAX_PARAMS
        return params_cap(self.free_bytes, bytes_per_param=2 if self.bf16 else 4)

    @property
    def max_model_bytes(self) -> int:
        """Weight bytes kept loaded at once."""
        if not self.is_cuda:
            return CPU_MAX_MODEL_BYTES
        return int(self.free_bytes * LOADED_SHARE)


def choose_device(requested: str | None, cuda_available: bool) -> str:
    """The device for ANATOMY_DEVICE's value: "cpu" or "cuda"; "cuda" without CUDA is refused."""
    wanted = (requested or "auto").strip().lower()
    if wanted not in DEVICES:
        raise ValueError(f"ANATOMY_DEVICE must be one of {', '.join(DEVICES)}, not {requested!r}")
    if wanted == "cuda" and not cuda_available:
        raise RuntimeError(
            "ANATOMY_DEVICE=cuda, but torch sees no CUDA device (torch.cuda.is_available() "
            "is False): install a CUDA build of torch, or use ANATOMY_DEVICE=auto or cpu."
        )
    if wanted == "auto":
        return "cuda" if cuda_available else "cpu"
    return wanted


def params_cap(free_bytes: int, bytes_per_param: int) -> int:
    """Parameters whose weights fit in WEIGHT_SHARE of `free_bytes`."""
    return int(free_bytes * WEIGHT_SHARE / bytes_per_param)


def weight_dtype(
    device: str, bf16: bool, checkpoint_dtype: object = None, forced: str | None = None
) -> torch.dtype:
    """The dtype weights load in (see the module docstring for the rules).

    `checkpoint_dtype` is the config's `dtype` / `torch_dtype` (a torch.dtype or its
    name); `forced` is ANATOMY_DTYPE (auto, float32, bfloat16, float16).
    """
    if forced and forced.lower() != "auto":
        if forced.lower() not in DTYPES:
            raise ValueError(f"ANATOMY_DTYPE must be auto or one of {', '.join(DTYPES)}")
        if device != "cuda" and forced.lower() != "float32":
            raise ValueError("ANATOMY_DTYPE other than float32 needs ANATOMY_DEVICE=cuda")
        return DTYPES[forced.lower()]
    if device != "cuda":
        return torch.float32
    if bf16:
        return torch.bfloat16
    saved = str(checkpoint_dtype or "").replace("torch.", "")
    return torch.float16 if saved == "float16" else torch.float32


def zero_gpu() -> bool:
    """True on a ZeroGPU Space (the `spaces` package and its environment marker)."""
    return bool(os.environ.get("SPACES_ZERO_GPU")) and spaces_module() is not None


def _cuda_plan() -> DevicePlan:
    if zero_gpu():
        # Asking CUDA anything here would initialise it in the main process, which
        # ZeroGPU forbids; its cards (A100 / H200 slices) compute in bfloat16.
        gigabytes = float(os.environ.get("ANATOMY_GPU_MEMORY_GB", ZERO_GPU_MEMORY_GB))
        free = int(gigabytes * 1024**3)
        return DevicePlan("cuda", True, free, f"cuda (ZeroGPU, {gigabytes:.0f} GB assumed)")
    free, _total = torch.cuda.mem_get_info()
    name = torch.cuda.get_device_name()
    # Native bfloat16 only (compute capability 8+): torch would call an emulated one
    # (T4, V100) supported too, and it runs many times slower there.
    bf16 = torch.cuda.is_bf16_supported(including_emulation=False)
    return DevicePlan("cuda", bf16, free, f"cuda ({name}, {free / 1024**3:.1f} GB free)")


@lru_cache(maxsize=1)
def device_plan() -> DevicePlan:
    """The process's device, chosen on first use from ANATOMY_DEVICE (then fixed)."""
    spaces_module()  # ZeroGPU wants `spaces` imported before anything asks CUDA
    name = choose_device(os.environ.get("ANATOMY_DEVICE"), torch.cuda.is_available())
    if name == "cpu":
        return DevicePlan("cpu", False, 0, "cpu")
    return _cuda_plan()


def dtype_for(checkpoint_dtype: object = None) -> torch.dtype:
    """The weight dtype on this process's device for a checkpoint saved in `checkpoint_dtype`."""
    plan = device_plan()
    return weight_dtype(plan.name, plan.bf16, checkpoint_dtype, os.environ.get("ANATOMY_DTYPE"))


def model_device(model: torch.nn.Module) -> torch.device:
    """The device the model's weights are on."""
    return next(model.parameters()).device


def to_model(value: np.ndarray | torch.Tensor, model: torch.nn.Module) -> torch.Tensor:
    """An input for `model`: on its device; floating values in its weights' dtype."""
    tensor = torch.as_tensor(value)
    weight = next(model.parameters())
    if tensor.is_floating_point():
        return tensor.to(device=weight.device, dtype=weight.dtype)
    return tensor.to(weight.device)


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """float32 numpy on the CPU (integers stay integers), whatever the tensor's device."""
    tensor = tensor.detach()
    if tensor.is_floating_point():
        tensor = tensor.to(torch.float32)
    return tensor.cpu().numpy()


@lru_cache(maxsize=1)
def spaces_module():
    """The `spaces` package if it is installed, else None (and then never imported)."""
    if importlib.util.find_spec("spaces") is None:
        return None
    return importlib.import_module("spaces")


def gpu_task(fn: F | None = None, *, duration: int = GPU_SECONDS):
    """Run `fn` under `spaces.GPU` where the `spaces` package exists; else leave it be.

    Use as `@gpu_task` or `@gpu_task(duration=120)`. See the module docstring for
    what such a function may take and return.
    """

    def wrap(function: F) -> F:
        spaces = spaces_module()
        if spaces is None:
            return function
        return spaces.GPU(duration=duration)(function)

    return wrap(fn) if fn is not None else wrap
