"""The performance table: `make bench` prints it and writes benchmarks/RESULTS.md.

For the bundled models at 16, 128 and 512 tokens:
- full analysis time / bare forward time (same run, interleaved; wall and CPU);
- bytes the browser gets for one attention view vs bertviz's own head view and
  model view HTML for the same input (bertviz at 512 tokens is extrapolated
  from 128 by T², as its document grows with the [L, H, T, T] tensor);
- median re-slice time of a layer/head change, of a temperature change and of a
  layer/token change in the Block tab (one block re-run for one token).
In Chromium: control change to the new view on screen, for every live view
(browser_bench.py), beside the server time of the same answer.
"Why this token?": re-slice to another target, capture cost, saliency times
(attribution_bench.py).
And for the app as a process: cold `python app.py` to the first served page,
the first analysis after start, peak RSS with all bundled models loaded,
concurrent throughput with 4 and 16 clients and their p95 latency.
Targets come from DESIGN.md ("Budgets").
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import psutil  # noqa: E402
import torch  # noqa: E402
from app_bench import app_process_numbers, browser_numbers  # noqa: E402

from models.analysis import analyze  # noqa: E402
from models.loading.catalog import BUNDLED, DEFAULT_MODEL  # noqa: E402
from models.loading.load import load_model  # noqa: E402

SIZES = (16, 128, 512)
RATIO_TARGET, BYTES_TARGET, SLICE_TARGET_MS = 1.3, 2 * 1024**2, 50.0
START_TARGET_S, FIRST_TARGET_S, RSS_TARGET = 8.0, 5.0, 2.5 * 1024**3


# ---------------------------------------------------------------- helpers


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        names = [ln for ln in Path("/proc/cpuinfo").read_text().splitlines() if "model name" in ln]
        cpu = names[0].split(":", 1)[1].strip()
    except (OSError, IndexError):
        pass
    memory = psutil.virtual_memory().total / 1024**3
    load = os.getloadavg()[0]
    return (
        f"{cpu}, {os.cpu_count()} CPUs, {memory:.0f} GB RAM; Python {platform.python_version()}, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads); "
        f"load average {load:.1f} when the run started"
    )


def text_of_length(model_id: str, tokens: int) -> str:
    from attention_bench import text_of_length as exact_length

    return exact_length(model_id, tokens)


def timed(call) -> tuple[float, float]:
    """(wall s, CPU s of this process) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    return time.perf_counter() - wall, time.process_time() - cpu


def mb(value: float) -> str:
    return f"{value / 1024**2:.2f} MB" if value >= 1e5 else f"{value / 1024:.1f} kB"


def gb_over(rss: float) -> str:
    return f"+{(rss - RSS_TARGET) / 1024**3:.2f} GB"


def verdict(ok: bool, missed_by: str = "") -> str:
    return "ok" if ok else f"**missed** ({missed_by})"


# ---------------------------------------------------------------- in-process


def forward_ratio(model_id: str, text: str, repeats: int) -> dict:
    loaded = load_model(model_id)
    enc = loaded.tokenizer(text, return_tensors="pt")
    if loaded.family == "encoder-decoder":
        enc["decoder_input_ids"] = torch.tensor([[loaded.config.decoder_start_token_id]])

    def bare():
        with torch.inference_mode():
            loaded.model(**enc, output_attentions=True, output_hidden_states=True)

    bare()  # warm
    bare_times, full_times = [], []
    for _ in range(repeats):  # interleaved, so load changes hit both alike
        bare_times.append(timed(bare))
        full_times.append(timed(lambda: analyze(loaded, text)))
    bare_wall = statistics.median(t[0] for t in bare_times)
    full_wall = statistics.median(t[0] for t in full_times)
    bare_cpu = statistics.median(t[1] for t in bare_times)
    full_cpu = statistics.median(t[1] for t in full_times)
    return {
        "bare_ms": bare_wall * 1000,
        "full_ms": full_wall * 1000,
        "ratio": full_wall / bare_wall,
        "cpu_ratio": full_cpu / bare_cpu if bare_cpu else float("nan"),
    }


def view_bytes_and_reslice(model_id: str, tokens: int, repeats: int) -> dict:
    """The attention panel's own measurement (benchmarks/attention_bench.py) at `tokens`."""
    import attention_bench

    attention_bench.TOKENS = tokens
    row = attention_bench.bench(model_id, repeats)
    return {
        "view_bytes": max(row["layer/head change bytes"], row["overview bytes"]),
        "reslice_ms": row["re-slice median ms"],
        "reslice_cpu_ms": row["re-slice median CPU ms"],
    }


def temperature_reslice(model_id: str, tokens: int, repeats: int) -> dict:
    """Median CPU ms of a temperature change in the Next-token tab (chart + summary,
    serialised as Gradio sends them); None for a model without an LM head."""
    import attention_bench
    import gradio as gr

    from components.next_token import panel as next_token
    from components.next_token.generation import last_position
    from components.page.context import analysis_for
    from models.results import AnalysisKey

    key = list(AnalysisKey.of(model_id, attention_bench.text_of_length(model_id, tokens), ""))
    analysis = analysis_for(key)
    if not analysis.has_lm_head:
        return {"temperature_ms": None}
    position, plot, markdown = last_position(analysis, 0), gr.Plot(), gr.Markdown()
    times = []
    for i in range(repeats):
        temperature = 0.5 + 0.25 * (i % 6)

        def change(temperature=temperature):
            figure, text = next_token.distribution_view(
                key, {}, position, temperature, 40, 0.95, 20, False, 0, "en"
            )
            return attention_bench.wire_bytes(plot, figure) + attention_bench.wire_bytes(
                markdown, text
            )

        times.append(attention_bench.cpu_timed(change)[1])
    return {"temperature_ms": statistics.median(times)}


def block_reslice(model_id: str, tokens: int, repeats: int) -> dict:
    """The Block tab's own measurement (benchmarks/block_bench.py) at `tokens`."""
    import block_bench

    row = block_bench.bench(model_id, repeats, tokens)
    sent = ("step view bytes", "map bytes", "stream bytes")
    return {
        "block_ms": row["block re-slice median ms"],
        "block_cpu_ms": row["block re-slice median CPU ms"],
        "block_bytes": max(row[name] for name in sent),
    }


def bertviz_bytes(model_id: str, text: str) -> tuple[int, int]:
    """(head view, model view) HTML bytes from bertviz itself for this input."""
    from bertviz import head_view, model_view

    from models.results import get_analysis

    analysis = get_analysis(model_id, text)
    attention = tuple(torch.from_numpy(a[None]) for a in analysis.attentions)
    tokens = [t.piece for t in analysis.tokens]
    head = head_view(attention, tokens, html_action="return").data
    model = model_view(attention, tokens, html_action="return").data
    return len(head.encode("utf-8")), len(model.encode("utf-8"))


# ---------------------------------------------------------------- the table


def model_rows(repeats: int, sizes: tuple[int, ...]):
    """Yield one row per (model, size): all models at the short sizes first."""
    for tokens in sorted(sizes):
        for entry in BUNDLED:
            text = text_of_length(entry.id, tokens)
            row = {"model": entry.id.split("/")[-1], "tokens": tokens}
            row.update(forward_ratio(entry.id, text, repeats))
            row.update(view_bytes_and_reslice(entry.id, tokens, max(repeats * 3, 5)))
            row.update(temperature_reslice(entry.id, tokens, max(repeats * 3, 5)))
            row.update(block_reslice(entry.id, tokens, max(repeats * 3, 5)))
            measure_bertviz = tokens <= 128 or tokens == min(sizes)
            row["bertviz"] = bertviz_bytes(entry.id, text) if measure_bertviz else (None, None)
            print(f"  measured {row['model']} at {tokens} tokens", file=sys.stderr)
            yield row


def with_bertviz_estimates(rows: list[dict]) -> list[dict]:
    """bertviz at 512: from the largest measured size by T² (measuring takes GBs, minutes)."""
    done = []
    for row in rows:
        row = dict(row)
        if row["bertviz"][0] is None:
            measured = [r for r in rows if r["model"] == row["model"] and r["bertviz"][0]]
            base = max(measured, key=lambda r: r["tokens"])
            scale = (row["tokens"] / base["tokens"]) ** 2
            row["bertviz"] = tuple(int(b * scale) for b in base["bertviz"])
            row["bertviz_estimated"] = True
        done.append(row)
    return done


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def browser_lines(rows: list[dict]) -> list[str]:
    import browser_bench

    return [
        "",
        "## In the browser (Chromium, headless)",
        "",
        "A control changed as a teacher does it (a number typed and Enter, an option",
        "picked), timed from the input to the live view drawn with the answer; beside it",
        "the server's time for that answer, read from the browser's resource timing.",
        "",
        *browser_bench.markdown(rows),
    ]


def render(rows: list[dict], app: dict, description: str, clicks: list[dict]) -> str:
    rows = with_bertviz_estimates(rows)
    lines = [
        "# Performance table",
        "",
        f"Machine: {description}.",
        "",
        "Generated by `make bench` (benchmarks/run.py). Targets from DESIGN.md. Wall times on",
        "a busy shared machine are inflated; the CPU-time columns are what the process itself",
        "spent and are the fairer comparison.",
        "",
        "## Per model and input length",
        "",
        "| model | tokens | bare forward | full analysis | ratio (wall) | ratio (CPU) "
        "| bytes per view | bertviz head view | bertviz model view | view / bertviz head "
        "| layer/head re-slice median (wall / CPU) | temperature re-slice median (CPU) "
        "| block layer/token re-slice median (wall / CPU) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        head, model = r["bertviz"]
        mark = " (est.)" if r.get("bertviz_estimated") else ""
        lines.append(
            f"| {r['model']} | {r['tokens']} | {r['bare_ms']:.0f} ms | {r['full_ms']:.0f} ms "
            f"| {r['ratio']:.2f} | {r['cpu_ratio']:.2f} | {mb(r['view_bytes'])} "
            f"| {mb(head)}{mark} | {mb(model)}{mark} | {r['view_bytes'] / head:.4f} "
            f"| {r['reslice_ms']:.1f} / {r['reslice_cpu_ms']:.1f} ms "
            f"| {_ms(r['temperature_ms'])} "
            f"| {r['block_ms']:.1f} / {r['block_cpu_ms']:.1f} ms |"
        )
    worst_ratio = max(min(r["ratio"], r["cpu_ratio"]) for r in rows)
    worst_bytes = max(max(r["view_bytes"], r["block_bytes"]) for r in rows)
    worst_slice = max(
        [r["reslice_cpu_ms"] for r in rows]
        + [r["temperature_ms"] or 0 for r in rows]
        + [r["block_cpu_ms"] for r in rows]
    )
    worst_slice_wall = max(max(r["reslice_ms"], r["block_ms"]) for r in rows)
    t4, t16 = app["throughput"][4], app["throughput"][16]
    start_miss, first_miss = f"+{app['start_s'] - 8:.1f} s", f"+{app['first_s'] - 5:.1f} s"
    ratio_miss = f"by {worst_ratio - RATIO_TARGET:.3f}"
    low, high = app["start_range"]
    n_starts = app["starts"]
    lines += [
        "",
        "## The app as a process",
        "",
        "| measure | value | target | verdict |",
        "|---|---:|---:|---|",
        f"| cold `python app.py` to first served page, median of {n_starts} "
        f"({low:.1f}-{high:.1f} s) | {app['start_s']:.1f} s | <= 8 s "
        f"| {verdict(app['start_s'] <= START_TARGET_S, start_miss)} |",
        f"| first analysis after start ({DEFAULT_MODEL.split('/')[-1]}) | {app['first_s']:.1f} s "
        f"| <= 5 s | {verdict(app['first_s'] <= FIRST_TARGET_S, first_miss)} |",
        f"| RSS after start, no model loaded | {app['idle_rss'] / 1024**3:.2f} GB | - | - |",
        f"| RSS with all bundled models loaded | {app['loaded_rss'] / 1024**3:.2f} GB | <= 2.5 GB "
        f"| {verdict(app['loaded_rss'] <= RSS_TARGET, gb_over(app['loaded_rss']))} |",
        f"| peak RSS over the whole run (incl. 16 clients) | {app['peak_rss'] / 1024**3:.2f} GB "
        f"| <= 2.5 GB | {verdict(app['peak_rss'] <= RSS_TARGET, gb_over(app['peak_rss']))} |",
        f"| throughput, 4 clients ({t4['n']} analyses) | {t4['per_s']:.2f} analyses/s "
        f"| - | p95 latency {t4['p95_s']:.2f} s |",
        f"| throughput, 16 clients ({t16['n']} analyses) | {t16['per_s']:.2f} analyses/s "
        f"| - | p95 latency {t16['p95_s']:.2f} s |",
        "",
        "## Against the budgets",
        "",
        f"- full analysis / bare forward: worst {worst_ratio:.3f} (the better of wall and CPU) "
        f"vs <= {RATIO_TARGET}: {verdict(worst_ratio <= RATIO_TARGET, ratio_miss)}",
        f"- largest response per view: {mb(worst_bytes)} vs <= 2 MB: "
        f"{verdict(worst_bytes <= BYTES_TARGET, f'by {mb(worst_bytes - BYTES_TARGET)}')}",
        f"- re-slice median (layer/head, temperature, block layer/token): worst "
        f"{worst_slice:.1f} ms CPU (layer/head and block worst wall {worst_slice_wall:.1f} ms) "
        f"vs <= 50 ms: {verdict(worst_slice <= SLICE_TARGET_MS, f'by {worst_slice - 50:.1f} ms')}",
        f"- load average at the end of the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs",
    ]
    return "\n".join(lines + browser_lines(clicks)) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per measurement")
    parser.add_argument("--per-client", type=int, default=3, help="analyses per load client")
    parser.add_argument("--starts", type=int, default=3, help="cold starts of app.py")
    parser.add_argument("--clicks", type=int, default=5, help="changes timed per row in Chromium")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "RESULTS.md"))
    args = parser.parse_args()
    description = machine()
    print("measuring the app process ...", file=sys.stderr)
    app = {**app_process_numbers(args.per_client, args.starts), "starts": args.starts}
    print("measuring control changes in Chromium ...", file=sys.stderr)
    clicks = browser_numbers(args.clicks)
    print("measuring the models ...", file=sys.stderr)
    sizes = tuple(int(s) for s in args.sizes.split(","))
    rows: list[dict] = []
    for row in model_rows(args.repeats, sizes):  # the file grows row by row
        rows.append(row)
        table = render(rows, app, description, clicks)
        Path(args.out).write_text(table, encoding="utf-8")
    print("measuring why this token ...", file=sys.stderr)
    from attribution_bench import markdown as attribution_markdown

    table += attribution_markdown()
    Path(args.out).write_text(table, encoding="utf-8")
    print(table)


if __name__ == "__main__":
    main()
