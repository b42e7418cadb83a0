"""GPU smoke test, for a maintainer with a CUDA machine (not part of `make test`).

    ANATOMY_DEVICE=cuda .venv/bin/python benchmarks/gpu_smoke.py [MODEL_ID ...]

Default models: the bundled SmolLM2 and Gemma ids (bundled copies where installed,
else the Hub originals, which need the Hub or the HF cache; Gemma needs HF_TOKEN).
Extra ids (e.g. meta-llama/Llama-3.2-1B, Qwen/Qwen2.5-1.5B, google/gemma-3-1b-pt)
check the bigger-model cap. For each model, through the app's own code on CUDA:
- the weights are on CUDA in the dtype models.device chose, eager attention;
- every Analysis array is float32 numpy on the CPU;
- attention rows sum to 1 (within half precision) and the causal triangle is 0;
- " Paris" is the top next token after "The capital of France is" (SmolLM2) or
  "The capital of France is the city of" (Gemma 3 270M base, which continues the
  first with " the"); among the top 5 for other ids;
- the last-position logits are within half-precision tolerance of a float32 CPU
  run of the same weights by transformers itself (same top 1, >= 8 of the top 10,
  softmax within 0.02);
- the Q·K walk-through, logit lens and greedy generation run;
and it prints load / analysis times and the peak CUDA memory.
`--allow-cpu` runs the same checks on the CPU (to test this script without a GPU).
Exit status 1 when a check fails.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("ANATOMY_DEVICE", "cuda")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

from models.device import device_plan  # noqa: E402
from models.lenses.generation import generate  # noqa: E402
from models.lenses.logit_lens import lens_logits  # noqa: E402
from models.lenses.walkthrough import walk_through  # noqa: E402
from models.loading.catalog import GEMMA3, SMOLLM2  # noqa: E402
from models.loading.load import load_model  # noqa: E402
from models.loading.source import resolve  # noqa: E402
from models.results import get_analysis  # noqa: E402

TEXT = "The capital of France is"
PROMPTS = {GEMMA3: "The capital of France is the city of"}  # default: TEXT
LONG_TOKENS = 512


def cpu_reference_logits(model_id: str, text: str) -> np.ndarray:
    """[V] float32 CPU logits of `text` from transformers alone, same weights."""
    source = resolve(model_id)
    common = {"local_files_only": source.local_files_only}
    tokenizer = AutoTokenizer.from_pretrained(source.path, **common)
    model = AutoModelForCausalLM.from_pretrained(
        source.path, dtype=torch.float32, attn_implementation="eager", **common
    ).eval()
    with torch.inference_mode():
        logits = model(**tokenizer(text, return_tensors="pt")).logits[0, -1]
    del model
    return logits.numpy()


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def check_model(model_id: str, report: list[str]) -> bool:
    failures: list[str] = []

    def expect(ok: bool, what: str) -> None:
        if not ok:
            failures.append(what)

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    loaded = load_model(model_id)
    load_s = time.perf_counter() - started
    weight = next(loaded.model.parameters())
    expect(weight.device.type == device_plan().name, f"weights on {weight.device}")
    expect(loaded.model.config._attn_implementation == "eager", "attention is not eager")

    started = time.perf_counter()
    text = PROMPTS.get(model_id, TEXT)
    analysis = get_analysis(model_id, text)
    first_s = time.perf_counter() - started
    for name in ("token_embeddings", "hidden_states", "attentions", "logits_last"):
        array = getattr(analysis, name)
        expect(isinstance(array, np.ndarray) and array.dtype == np.float32, f"{name} dtype")
    rows = analysis.attentions.sum(-1)
    expect(np.abs(rows - 1).max() < 2e-2, f"attention rows sum to 1 ± {np.abs(rows - 1).max()}")
    upper = np.triu(np.ones((analysis.n_tokens,) * 2, dtype=bool), 1)
    expect(float(analysis.attentions[..., upper].max()) == 0.0, "causal triangle is not 0")
    top = int(analysis.logits_last.argmax())
    ranked = [loaded.tokenizer.decode([int(i)]) for i in np.argsort(-analysis.logits_last)[:5]]
    needed = 1 if model_id in (SMOLLM2, GEMMA3) else 5
    expect(" Paris" in ranked[:needed], f"top tokens {ranked}: ' Paris' not in the top {needed}")

    reference = cpu_reference_logits(model_id, text)
    ours = analysis.logits_last
    top10 = set(np.argsort(-ours)[:10]) & set(np.argsort(-reference)[:10])
    prob_gap = float(np.abs(softmax(ours) - softmax(reference)).max())
    logit_gap = float(np.abs(ours - reference).max())
    expect(int(reference.argmax()) == top, "top token differs from the CPU float32 one")
    expect(len(top10) >= 8, f"only {len(top10)} of the top 10 match the CPU ones")
    expect(prob_gap < 0.02, f"softmax differs from the CPU one by {prob_gap:.4f}")

    steps = walk_through(analysis, 0, 0, analysis.n_tokens - 1)
    expect(steps.max_difference < 2e-2, f"walk-through off by {steps.max_difference}")
    lens = lens_logits(analysis)
    expect(lens.dtype == np.float32 and int(lens[-1].argmax()) == top, "logit lens last row")
    generated = generate(analysis, 5, 1.0, 0, 1.0, greedy=True, seed=0)
    expect(generated[0].chosen == top, "greedy generation does not start with the top token")

    long_text = " ".join(["word"] * (LONG_TOKENS - 8))
    started = time.perf_counter()
    long = get_analysis(model_id, long_text)
    long_s = time.perf_counter() - started
    expect(np.abs(long.attentions.sum(-1) - 1).max() < 2e-2, "512-token rows sum to 1")
    peak = torch.cuda.max_memory_allocated() / 1024**3 if torch.cuda.is_available() else 0.0

    report.append(
        f"| {model_id} | {loaded.n_params / 1e6:.0f}M | {weight.dtype} | {load_s:.1f} s | "
        f"{first_s * 1000:.0f} ms | {long.n_tokens} tok: {long_s * 1000:.0f} ms | "
        f"{logit_gap:.3f} | {prob_gap:.4f} | {len(top10)}/10 | {peak:.2f} GB | "
        f"{'ok' if not failures else 'FAILED: ' + '; '.join(failures)} |"
    )
    return not failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", default=[SMOLLM2, GEMMA3])
    parser.add_argument("--allow-cpu", action="store_true", help="run the checks on the CPU")
    args = parser.parse_args()
    if args.allow_cpu:
        os.environ["ANATOMY_DEVICE"] = "cpu"
    try:
        plan = device_plan()
    except RuntimeError as exc:  # ANATOMY_DEVICE=cuda without CUDA
        print(f"{exc}\nThis smoke test is for a GPU machine (or pass --allow-cpu).")
        return 2
    print(f"device: {plan.label}; bf16: {plan.bf16}; torch {torch.__version__}")
    report = [
        "| model | params | dtype | load | analysis (5 tok) | long analysis | max Δlogit "
        "vs CPU fp32 | max Δprob | top-10 overlap | peak CUDA memory | result |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    ok = True
    for model_id in args.models:
        try:
            ok &= check_model(model_id, report)
        except Exception as exc:  # noqa: BLE001 - report every model, then fail
            report.append(f"| {model_id} | | | | | | | | | | FAILED: {type(exc).__name__}: {exc} |")
            ok = False
    print("\n".join(report))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
