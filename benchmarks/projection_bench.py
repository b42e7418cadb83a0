"""Embedding projection: placing 512 tokens into a cached fit, and the one-time fits.

Run: .venv/bin/python benchmarks/projection_bench.py [--repeats N]

For SmolLM2 and Gemma-3 it measures:
- the one-time PCA fit of the token-embedding space (2,000 vocabulary words)
  and of one layer's space (which first runs the sample words through the model);
- the median time of placing 512 token vectors into the cached PCA fit,
  target <= 50 ms;
- the median time of the whole 3D figure for 512 tokens (place + plotly figure
  + JSON the browser receives) and its size.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from components.embeddings.plots import scatter_figure  # noqa: E402
from models.lenses.background import token_vectors  # noqa: E402
from models.lenses.projection import space  # noqa: E402
from models.loading.catalog import GEMMA3, SMOLLM2  # noqa: E402
from models.loading.load import load_model  # noqa: E402

TOKENS = 512
PLACE_TARGET_MS = 50.0


def _median_ms(action, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _timed(action) -> tuple[object, float]:
    start = time.perf_counter()
    result = action()
    return result, time.perf_counter() - start


def bench_model(model_id: str, repeats: int) -> dict:
    load_model(model_id)
    fitted, token_fit_s = _timed(lambda: space(model_id, "token", "pca"))
    layer_fit = _timed(lambda: space(model_id, "3", "pca"))[1]
    vocabulary = len(load_model(model_id).tokenizer)
    ids = np.random.default_rng(0).integers(0, vocabulary, TOKENS)
    vectors = token_vectors(model_id, ids)  # [512, D], what a 512-token sentence gives
    place_ms = _median_ms(lambda: fitted.place(vectors), repeats)
    labels = [f"{i}:t{i}" for i in range(TOKENS)]
    names = [str(i) for i in fitted.background_ids]

    def figure_json() -> str:
        points = fitted.place(vectors)
        return scatter_figure(
            points, labels, labels, fitted.background_points, names, "en"
        ).to_json()

    figure_ms = _median_ms(figure_json, max(3, repeats // 4))
    return {
        "model": model_id,
        "token fit s": token_fit_s,
        "layer fit s": layer_fit,
        "place 512 ms": place_ms,
        "figure 512 ms": figure_ms,
        "figure KB": len(figure_json()) / 1024,
        "ok": place_ms <= PLACE_TARGET_MS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=40)
    args = parser.parse_args()
    rows = [bench_model(model_id, args.repeats) for model_id in (SMOLLM2, GEMMA3)]
    header = (
        f"{'model':38} {'token fit s':>11} {'layer fit s':>11} {'place 512 ms':>12} "
        f"{'figure 512 ms':>13} {'figure KB':>9}  place <= {PLACE_TARGET_MS:.0f} ms"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['model']:38} {row['token fit s']:11.2f} {row['layer fit s']:11.2f} "
            f"{row['place 512 ms']:12.2f} {row['figure 512 ms']:13.1f} {row['figure KB']:9.0f}  "
            f"{'yes' if row['ok'] else 'NO'}"
        )


if __name__ == "__main__":
    main()
