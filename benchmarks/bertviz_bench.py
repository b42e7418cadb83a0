"""bertviz's own head view vs ours (offline, capped): bytes and build time at 16/128/512 tokens.

Run: .venv/bin/python benchmarks/bertviz_bench.py [model_id ...]
"bertviz" is `head_view(..., html_action='return')` on the raw float32 attentions, as a
notebook would call it (plus its CDN requests, not counted). "ours" is the whole iframe
the app sends: vendored JS inlined, JSON once and rounded, tokens and layers capped.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from bertviz import head_view  # noqa: E402

from components.attention import bertviz as bv  # noqa: E402
from models.analysis import analyze  # noqa: E402
from models.loading.catalog import MINILM, SMOLLM2  # noqa: E402
from models.loading.load import load_model  # noqa: E402

SIZES = (16, 128, 512)
REPEATS = 3  # ours; bertviz's own runs once (hundreds of MB at 512 tokens)


def text_of_length(loaded, n_tokens: int) -> str:
    """A text the model's tokenizer reads as about `n_tokens` tokens (specials included)."""
    words = " ".join(f"w{i}" for i in range(n_tokens * 2))
    ids = loaded.tokenizer(words, add_special_tokens=False)["input_ids"]
    n_special = len(loaded.tokenizer("a")["input_ids"]) - len(
        loaded.tokenizer("a", add_special_tokens=False)["input_ids"]
    )
    return loaded.tokenizer.decode(ids[: n_tokens - n_special])


def timed(build, repeats: int = REPEATS) -> tuple[int, float]:
    """(characters of the result, ~bytes as it is ASCII JSON; median seconds over repeats)."""
    times, size = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        size = len(build())
        times.append(time.perf_counter() - start)
    return size, statistics.median(times)


def bertviz_own(analysis) -> str:
    attention = [torch.from_numpy(layer).unsqueeze(0) for layer in analysis.attentions]
    tokens = bv.token_labels(analysis.tokens)
    return head_view(attention, tokens, html_action="return").data


def ours(analysis) -> str:
    caps = bv.view_caps(analysis, bv.HEAD_VIEW)
    document = bv.offline_document(bv.bertviz_html(analysis, bv.HEAD_VIEW, caps))
    return bv.iframe(document, bv.frame_height(analysis, bv.HEAD_VIEW, caps), "bertviz")


def main(model_ids: list[str]) -> None:
    header = f"{'model':<38} {'tokens':>6} {'bertviz MB':>11} {'bertviz s':>10}"
    print(f"{header} {'ours MB':>8} {'ours s':>7}  shown")
    for model_id in model_ids:
        loaded = load_model(model_id)
        for n in SIZES:
            analysis = analyze(loaded, text_of_length(loaded, n))
            theirs_bytes, theirs_s = timed(lambda a=analysis: bertviz_own(a), repeats=1)
            our_bytes, our_s = timed(lambda a=analysis: ours(a))
            caps = bv.view_caps(analysis, bv.HEAD_VIEW)
            shown = f"{caps.n_tokens} tokens x layers {caps.layers[0]}-{caps.layers[-1]}"
            print(
                f"{model_id:<38} {analysis.n_tokens:>6} {theirs_bytes / 1e6:>11.1f} "
                f"{theirs_s:>10.2f} {our_bytes / 1e6:>8.2f} {our_s:>7.2f}  {shown}",
                flush=True,
            )


if __name__ == "__main__":
    main(sys.argv[1:] or [MINILM, SMOLLM2])
