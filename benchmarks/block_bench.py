"""Block panel at 512 tokens: re-slice time of a layer/token change and bytes sent.

Run: .venv/bin/python benchmarks/block_bench.py [--repeats N]

For each bundled model on a 512-token input, after the one forward pass:
- the median server time of a layer or token change in the step view (one block
  re-run for one token, its figures and text, serialised by Gradio as in the app),
  target <= 50 ms (wall and this process's CPU time);
- the bytes of the largest response the browser receives from the Block tab (the
  step view, the map with its tables and plots, the residual stream heatmap), and
  of the /block API answer, target <= 2 MB each.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import gradio as gr  # noqa: E402
from attention_bench import cpu_timed, text_of_length, wire_bytes  # noqa: E402

from components.block import panel as block  # noqa: E402
from components.page.context import analysis_for  # noqa: E402
from models.loading.catalog import BUNDLED  # noqa: E402
from models.results import AnalysisKey  # noqa: E402

TOKENS = 512
BYTES_TARGET = 2 * 1024 * 1024
SLICE_TARGET_MS = 50.0


def _sizes(components, values) -> int:
    return sum(wire_bytes(c, v) for c, v in zip(components, values, strict=True))


def bench(model: str, repeats: int, tokens: int = TOKENS) -> dict:
    text = text_of_length(model, tokens)
    key = list(AnalysisKey.of(model, text, ""))
    analysis = analysis_for(key)  # the one forward pass, outside every timing
    step_outputs = (gr.Markdown(), gr.Plot(), gr.Plot(), gr.Plot())
    map_outputs = (gr.Plot(), gr.Dataframe(), gr.Dataframe(), gr.Plot(), gr.Markdown(), gr.Code())
    block.render_steps(key, "encoder", 0, 0, "en")  # warm (the model's layout, first call)
    walls, cpus, step_bytes = [], [], 0
    for i in range(repeats):
        layer = (i * 7) % analysis.n_layers
        token = (i * 131) % analysis.n_tokens  # a new layer and a new token every time

        def change(layer=layer, token=token):
            return _sizes(step_outputs, block.render_steps(key, "encoder", layer, token, "en"))

        wall, cpu, size = cpu_timed(change)
        walls.append(wall)
        cpus.append(cpu)
        step_bytes = max(step_bytes, size)
    map_bytes = _sizes(map_outputs, block.render_architecture(key, "en"))
    stream_bytes = max(
        _sizes((gr.Plot(), gr.Markdown()), block.render_stream(key, "encoder", view, "en"))
        for view in ("attention", "lines")
    )
    api = block.block(model, text, analysis.n_layers - 1, -1)
    return {
        "model": model.split("/")[-1],
        "tokens": analysis.n_tokens,
        "block re-slice median ms": statistics.median(walls),
        "block re-slice median CPU ms": statistics.median(cpus),
        "block re-slice max ms": max(walls),
        "step view bytes": step_bytes,
        "map bytes": map_bytes,
        "stream bytes": stream_bytes,
        "API /block bytes": len(json.dumps(api).encode("utf-8")),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    args = parser.parse_args()
    rows = [bench(entry.id, args.repeats) for entry in BUNDLED]
    print(f"\nBlock panel at {TOKENS} tokens ({args.repeats} layer/token changes per model)\n")
    names = list(rows[0])
    width = max(len(name) for name in names) + 2
    print("".ljust(width) + "".join(f"{row['model']:>24}" for row in rows))
    for name in names[1:]:
        cells = "".join(f"{_fmt(name, row[name]):>24}" for row in rows)
        print(name.ljust(width) + cells)
    worst_bytes = max(
        max(r["step view bytes"], r["map bytes"], r["stream bytes"], r["API /block bytes"])
        for r in rows
    )
    worst_ms = max(r["block re-slice median ms"] for r in rows)
    worst_cpu = max(r["block re-slice median CPU ms"] for r in rows)
    print(f"\nload average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(
        f"largest response {worst_bytes / 1e6:.2f} MB "
        f"({'OK' if worst_bytes <= BYTES_TARGET else 'OVER'} vs 2 MB); worst median re-slice "
        f"{worst_ms:.1f} ms wall, {worst_cpu:.1f} ms CPU "
        f"({'OK' if min(worst_ms, worst_cpu) <= SLICE_TARGET_MS else 'OVER'} vs 50 ms)"
    )


def _fmt(name: str, value) -> str:
    if "bytes" in name:
        return f"{value / 1e6:.2f} MB" if value >= 1e5 else f"{value / 1e3:.1f} kB"
    if "ms" in name:
        return f"{value:.1f} ms"
    return str(value)


if __name__ == "__main__":
    main()
