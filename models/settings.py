"""Limits and locations, read from the environment when asked (tests change them)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from models.device import device_plan
from models.loading.bundled import REPO_ROOT


@dataclass(frozen=True)
class Settings:
    max_params: int  # refuse models larger than this, checked from the config
    max_models: int  # models kept loaded at once
    max_model_bytes: int  # total weight bytes kept loaded (on the device the models run on)
    max_tokens: int  # token cap of one analysis
    max_analyses: int  # analyses kept in the result cache
    max_analysis_bytes: int  # total bytes of cached analyses
    local_roots: tuple[Path, ...]  # folders a local model may be loaded from


def _int_env(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def settings() -> Settings:
    roots = os.environ.get("ANATOMY_LOCAL_MODELS", str(REPO_ROOT / "local_models"))
    device = device_plan()  # the defaults of the two size limits follow the device
    return Settings(
        max_params=_int_env("ANATOMY_MAX_PARAMS", device.max_params),
        max_models=_int_env("ANATOMY_MAX_MODELS", 3),
        max_model_bytes=_int_env("ANATOMY_MAX_MODEL_BYTES", device.max_model_bytes),
        max_tokens=_int_env("ANATOMY_MAX_TOKENS", 512),
        max_analyses=_int_env("ANATOMY_MAX_ANALYSES", 32),
        max_analysis_bytes=_int_env("ANATOMY_MAX_ANALYSIS_BYTES", 384 * 1024**2),
        local_roots=tuple(Path(p).resolve() for p in roots.split(os.pathsep) if p),
    )
