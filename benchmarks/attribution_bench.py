""" "Why this token?" timings: `python benchmarks/attribution_bench.py` prints a Markdown
section (benchmarks/run.py appends it to the performance table).

- re-slicing to another target at 512 tokens: the whole view (split, both charts,
  the table, as Gradio serialises them), median over the top-20 candidates;
- what the main-pass capture costs: analysis with and without it (interleaved),
  as a ratio to the bare forward pass;
- input saliency at 16 and 128 tokens: gradient × input and integrated gradients
  (cold, i.e. not from the cache).
"""

from __future__ import annotations

import os
import statistics
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import captum.attr  # noqa: E402, F401  (imported once here, not inside the first timing)
import gradio as gr  # noqa: E402
import torch  # noqa: E402
from attention_bench import cpu_timed, text_of_length, wire_bytes  # noqa: E402

from components.next_token import why  # noqa: E402
from models import analysis as analysis_module  # noqa: E402
from models.analysis import analyze  # noqa: E402
from models.lenses import saliency  # noqa: E402
from models.loading.catalog import GEMMA3, SMOLLM2  # noqa: E402
from models.loading.load import load_model  # noqa: E402
from models.results import AnalysisKey, get_analysis  # noqa: E402

MODELS = (SMOLLM2, GEMMA3)
RESLICE_TOKENS, SALIENCY_TOKENS = 512, (16, 128)
RESLICE_TARGET_MS, RATIO_TARGET = 50.0, 1.3


def reslice(model: str, tokens: int = RESLICE_TOKENS) -> dict:
    """Median wall / CPU ms of drawing the view for another target (no forward pass)."""
    text = text_of_length(model, tokens)
    key = list(AnalysisKey.of(model, text, ""))
    analysis = get_analysis(model, text)
    outputs = (gr.Markdown(), gr.Plot(), gr.Plot(), gr.Dataframe())
    targets = [str(int(i)) for i in analysis.top_ids[-1][:20]]
    why.render(key, targets[0], "", -1, saliency.GRADIENT_X_INPUT, "en")  # warm

    def draw(target):
        views = why.render(key, target, "", -1, saliency.GRADIENT_X_INPUT, "en")
        return sum(wire_bytes(c, v) for c, v in zip(outputs, views[:4], strict=True))

    runs = [cpu_timed(lambda target=target: draw(target)) for target in targets]
    return {
        "wall_ms": statistics.median(r[0] for r in runs),
        "cpu_ms": statistics.median(r[1] for r in runs),
        "bytes": max(r[2] for r in runs),
    }


class _NoCapture:
    """PartsCapture's interface with no hooks (what analysis cost before it existed)."""

    def __init__(self, loaded):
        pass

    def finish(self, out, embeddings, position):
        return None

    def remove(self):
        pass


def capture_cost(model: str, tokens: int, repeats: int = 5) -> dict:
    """Analysis with and without the capture, and the bare forward, interleaved: median
    wall and CPU ms of each (CPU time is what a busy shared machine inflates least)."""
    loaded = load_model(model)
    text = text_of_length(model, tokens)
    enc = loaded.tokenizer(text, return_tensors="pt")

    def bare():
        with torch.inference_mode():
            loaded.model(**enc, output_attentions=True, output_hidden_states=True)

    def without():
        real = analysis_module.PartsCapture
        analysis_module.PartsCapture = _NoCapture
        try:
            analyze(loaded, text)
        finally:
            analysis_module.PartsCapture = real

    bare()
    calls = {"bare": bare, "without": without, "with": lambda: analyze(loaded, text)}
    times = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            times[name].append(cpu_timed(call)[:2])
    return {
        name: tuple(statistics.median(t[i] for t in runs) for i in (0, 1))
        for name, runs in times.items()
    }


def saliency_time(model: str, tokens: int, method: str) -> tuple[float, saliency.Saliency]:
    """(wall seconds of one cold saliency computation, its result)."""
    analysis = get_analysis(model, text_of_length(model, tokens))
    target = int(analysis.top_ids[-1][0])
    saliency.clear_cache()
    wall, _, result = cpu_timed(lambda: saliency.compute(analysis, method, target))
    return wall / 1000, result


def markdown() -> str:
    lines = [
        "",
        "## Why this token? (logit attribution and input saliency)",
        "",
        f"| model | re-slice to another target at {RESLICE_TOKENS} tokens, median "
        "(wall / CPU) | view bytes | target | verdict |",
        "|---|---:|---:|---:|---|",
    ]
    for model in MODELS:
        r = reslice(model)
        ok = r["cpu_ms"] <= RESLICE_TARGET_MS
        lines.append(
            f"| {model.split('/')[-1]} | {r['wall_ms']:.1f} / {r['cpu_ms']:.1f} ms "
            f"| {r['bytes'] / 1024:.1f} kB | <= {RESLICE_TARGET_MS:.0f} ms "
            f"| {'ok' if ok else '**missed**'} |"
        )
        print(f"  re-slice {model}", file=sys.stderr)
    lines += [
        "",
        "| model | tokens | bare forward (wall / CPU) | analysis without capture "
        "| with capture | capture cost (CPU) | ratio to bare (wall / CPU) | target |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for model in MODELS:
        for tokens in (16, 128, 512):
            c = capture_cost(model, tokens)
            (bw, bc), (ow, oc), (ww, wc) = c["bare"], c["without"], c["with"]
            lines.append(
                f"| {model.split('/')[-1]} | {tokens} | {bw:.0f} / {bc:.0f} ms "
                f"| {ow:.0f} / {oc:.0f} ms | {ww:.0f} / {wc:.0f} ms | {wc - oc:+.0f} ms "
                f"| {ww / bw:.2f} / {wc / bc:.2f} | <= {RATIO_TARGET} |"
            )
            print(f"  capture {model} {tokens}", file=sys.stderr)
    lines += [
        "",
        f"| model | tokens | gradient × input | integrated gradients ({saliency.STEP_RANGE} steps) "
        "| steps used | IG completeness gap |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for model in MODELS:
        for tokens in SALIENCY_TOKENS:
            gxi, _ = saliency_time(model, tokens, saliency.GRADIENT_X_INPUT)
            ig, result = saliency_time(model, tokens, saliency.INTEGRATED_GRADIENTS)
            lines.append(
                f"| {model.split('/')[-1]} | {tokens} | {gxi:.2f} s | {ig:.2f} s "
                f"| {result.steps} | {result.completeness_gap:.1%} |"
            )
            print(f"  saliency {model} {tokens}", file=sys.stderr)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown())
