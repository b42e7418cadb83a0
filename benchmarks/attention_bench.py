"""Attention panel at 512 tokens: bytes sent to the browser and re-slice time.

Run: .venv/bin/python benchmarks/attention_bench.py [--repeats N]

For MiniLM (encoder) and SmolLM2 (decoder) on a 512-token input it measures,
after the one forward pass:
- the bytes of each response the browser receives (the events' outputs,
  serialised by Gradio exactly as in the app), target <= 2 MB each;
- the median server time of a layer/head change (slice + figure + Gradio
  serialisation), target <= 50 ms;
- the one-time head statistics of the overview (measured once per analysis).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gradio as gr  # noqa: E402

from components.attention import panel as attention  # noqa: E402
from components.attention.slicing import SELF  # noqa: E402
from components.page.context import analysis_for  # noqa: E402
from models.loading.catalog import MINILM, SMOLLM2  # noqa: E402
from models.loading.load import load_model  # noqa: E402
from models.results import AnalysisKey  # noqa: E402

TOKENS = 512
BYTES_TARGET = 2 * 1024 * 1024
SLICE_TARGET_MS = 50.0
WORDS = [
    "the",
    "teacher",
    "explained",
    "how",
    "attention",
    "lets",
    "each",
    "word",
    "look",
    "back",
    "at",
    "the",
    "words",
    "before",
    "it",
    "and",
    "students",
    "asked",
    "why",
    "some",
    "heads",
    "stare",
    "at",
    "the",
    "first",
    "token",
]


def text_of_length(model: str, tokens: int) -> str:
    """A text that this model's tokenizer turns into exactly `tokens` tokens (specials included)."""
    tokenizer = load_model(model).tokenizer
    words: list[str] = []
    while len(tokenizer(" ".join(words))["input_ids"]) < tokens:
        words.append(WORDS[len(words) % len(WORDS)])
    while len(tokenizer(" ".join(words))["input_ids"]) > tokens:
        words.pop()
    return " ".join(words)


def wire_bytes(component: gr.components.Component, value) -> int:
    """Bytes of one output as Gradio sends it (postprocess, then JSON)."""
    if isinstance(value, dict) and value.get("__type__") == "update":
        value = value.get("value")
    data = component.postprocess(value)
    payload = data.model_dump() if hasattr(data, "model_dump") else data
    return len(json.dumps(payload, default=str).encode("utf-8"))


def timed(call) -> tuple[float, object]:
    start = time.perf_counter()
    result = call()
    return (time.perf_counter() - start) * 1000, result


def cpu_timed(call) -> tuple[float, float, object]:
    """(wall ms, this process's CPU ms, result): CPU time is what a busy machine can't inflate."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000, result


def bench(model: str, repeats: int) -> dict:
    text = text_of_length(model, TOKENS)
    key = list(AnalysisKey.of(model, text, ""))
    analysis_for(key)  # the one forward pass, outside every timing
    analysis = analysis_for(key)
    plot, markdown, table = gr.Plot(), gr.Markdown(), gr.Dataframe()
    stats_ms, overview = timed(lambda: attention.render_overview(key, SELF, "label", "en"))
    cached_ms, overview = timed(lambda: attention.render_overview(key, SELF, "label", "en"))
    slice_times, slice_cpu, head_bytes = [], [], 0
    for i in range(repeats):
        layer, head = i % analysis.n_layers, (i % (analysis.n_heads + 1)) - 1

        def change(layer=layer, head=head):
            figure, note, summary = attention.render_head(key, SELF, layer, head, False, "en")
            return [wire_bytes(plot, figure), wire_bytes(markdown, note)]

        elapsed, cpu, sizes = cpu_timed(change)
        slice_times.append(elapsed)
        slice_cpu.append(cpu)
        head_bytes = max(head_bytes, sum(sizes))
    api_bytes = len(json.dumps(attention.attention(model, text, 0, 0)).encode("utf-8"))
    return {
        "model": model.split("/")[-1],
        "tokens": analysis.n_tokens,
        "layer/head change bytes": head_bytes,
        "overview bytes": wire_bytes(plot, overview[0]) + wire_bytes(table, overview[1]),
        "re-slice median ms": statistics.median(slice_times),
        "re-slice median CPU ms": statistics.median(slice_cpu),
        "re-slice max ms": max(slice_times),
        "overview first ms": stats_ms,
        "overview cached ms": cached_ms,
        "API /attention bytes": api_bytes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    args = parser.parse_args()
    rows = [bench(model, args.repeats) for model in (MINILM, SMOLLM2)]
    print(f"\nAttention panel at {TOKENS} tokens ({args.repeats} layer/head changes per model)\n")
    names = list(rows[0])
    width = max(len(name) for name in names) + 2
    print("".ljust(width) + "".join(f"{row['model']:>22}" for row in rows))
    for name in names[2:]:
        cells = "".join(f"{_fmt(name, row[name]):>22}" for row in rows)
        print(name.ljust(width) + cells)
    worst_bytes = max(max(r["layer/head change bytes"], r["overview bytes"]) for r in rows)
    worst_ms = max(r["re-slice median ms"] for r in rows)
    worst_cpu = max(r["re-slice median CPU ms"] for r in rows)
    print(f"\nload average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(
        f"largest browser response {worst_bytes / 1e6:.2f} MB "
        f"({_verdict(worst_bytes <= BYTES_TARGET)} vs 2 MB); worst median re-slice "
        f"{worst_ms:.1f} ms wall ({_verdict(worst_ms <= SLICE_TARGET_MS)}), "
        f"{worst_cpu:.1f} ms CPU ({_verdict(worst_cpu <= SLICE_TARGET_MS)}) vs "
        f"{SLICE_TARGET_MS:.0f} ms"
    )
    print("(the API response is JSON for scripts, not a browser view)")


def _verdict(ok: bool) -> str:
    return "OK" if ok else "OVER"


def _fmt(name: str, value) -> str:
    if "bytes" in name:
        return f"{value / 1e6:.2f} MB" if value >= 1e5 else f"{value / 1e3:.1f} kB"
    if "ms" in name:
        return f"{value:.1f} ms"
    return str(value)


if __name__ == "__main__":
    main()
