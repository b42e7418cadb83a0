"""Control change to new view on screen, in Chromium: what a teacher waits for.

Run: .venv/bin/python benchmarks/browser_bench.py [--url URL] [--repeats N] [--sizes 16,140]

With a running app (or one it starts), for each model and input length a share link
opens the page; then, tab by tab, a control is changed `repeats` times the way a
teacher does it (a number typed and Enter, an option picked in a menu) and each
change is timed from the input to the moment the live view has drawn the answer to
it (its `data-request` names the new value; plotly has finished `Plotly.react`),
on the page's own clock (from the input event to the animation frame that shows it).
Beside it, the time the server took for that answer (the browser's own resource
timing of the view's POST), so the gap between server and screen stays visible.

Rows (issue "Live in the browser"): attention layer and head, Block layer and token,
embedding layer (PCA; the fits are made before the timed picks), next-token
temperature, top-k and top-p. SmolLM2 and MiniLM at 16, ~140 and 512 tokens; the
next-token rows on SmolLM2 and Gemma-3 (MiniLM has no next-token head).
Needs the dev set-up (Playwright) and Debian Chromium at /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from app_process import start_app, stop_app  # noqa: E402

from models.loading.catalog import GEMMA3, MINILM, SMOLLM2  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
SIZES = (16, 140, 512)
FIRST_VIEW_MS = 600_000  # the first view waits for a model load and a 512-token pass
CHANGE_MS = 120_000
# (model, rows measured on it)
PLAN = (
    (SMOLLM2, ("attention", "block", "embeddings", "next_token")),
    (MINILM, ("attention", "block", "embeddings")),
    (GEMMA3, ("next_token",)),
)
# issue targets in seconds: (~140 tokens and shorter, 512 tokens)
TARGETS = {
    "attention layer": (0.3, 0.6),
    "attention head": (0.3, 0.6),
    "block layer": (0.3, 0.6),
    "block token": (0.3, 0.6),
    "embedding layer": (0.3, 0.6),
    "temperature": (0.2, 0.3),
    "top-k": (0.2, 0.3),
    "top-p": (0.2, 0.3),
}
VIEWS = {"attention": "attention", "block": "block", "embeddings": "embeddings"}
VIEWS["next_token"] = "next_token"
TABS = {
    "attention": "3 · Attention",
    "block": "4 · Block",
    "embeddings": "2 · Embeddings",
    "next_token": "5 · Next token",
}
DRAWN = """(name) => {
  const view = document.querySelector(`.live-view[data-live="${name}"]`);
  return view && view.dataset.drawn ? Number(view.dataset.drawn) : 0;
}"""
SHOWS = """([name, field, value, after]) => {
  const view = document.querySelector(`.live-view[data-live="${name}"]`);
  if (!view || !view.dataset.request || view.dataset.busy === "1") return false;
  if (Number(view.dataset.drawn || 0) <= after) return false;
  const asked = JSON.parse(view.dataset.request);
  if (value !== null && String(asked[field]) !== String(value)) return false;
  return performance.now() - (window.anatomyBenchBegin ?? performance.now()) || 0.01;
}"""
# The user's first input event after arming (a key, a pointer press, typed text) starts
# the clock in the page: Playwright's own checks before a click are not the app's time.
CLOCK = """() => {
  for (const type of ["pointerdown", "keydown", "input"]) {
    document.addEventListener(type, () => {
      if (window.anatomyBenchArmed) {
        window.anatomyBenchBegin = performance.now();
        window.anatomyBenchArmed = false;
      }
    }, true);
  }
}"""
ARM = "() => { window.anatomyBenchArmed = true; window.anatomyBenchBegin = null; }"
SERVER_MS = """() => {
  const posts = performance.getEntriesByType("resource")
    .filter((entry) => entry.name.includes("component_server"));
  const last = posts[posts.length - 1];
  return last ? last.responseEnd - last.startTime : null;
}"""


@dataclass
class Change:
    """One timed control change: `act(page, i)` makes the i-th change and returns the
    request value the view must show (None: any new drawing)."""

    row: str
    view: str
    field: str
    act: Callable


def typed(elem_id: str, values: list) -> Callable:
    """Type values[i] into the number box of `elem_id` and press Enter."""

    def act(page, i):
        box = page.locator(f"#{elem_id} input[type=number]")
        page.evaluate(ARM)
        box.fill(str(values[i]))
        box.press("Enter")
        return values[i]

    return act


def picked(elem_id: str, first: int = 1) -> Callable:
    """Open the menu of `elem_id` and pick option first + i."""

    def act(page, i):
        page.locator(f"#{elem_id} input").click()
        option = page.get_by_role("option").nth(first + i)
        option.wait_for()
        page.evaluate(ARM)
        option.click()
        return None

    return act


def changes(tab: str) -> list[Change]:
    if tab == "attention":
        return [
            Change(
                "attention layer",
                "attention",
                "layer",
                typed("attention-layer", [1, 2, 3, 4, 5, 1, 2, 3, 4, 5]),
            ),
            Change("attention head", "attention", "head", picked("attention-head")),
        ]
    if tab == "block":
        return [
            Change(
                "block layer",
                "block",
                "layer",
                typed("block-layer", [1, 2, 3, 4, 5, 1, 2, 3, 4, 5]),
            ),
            Change("block token", "block", "token", picked("block-token")),
        ]
    if tab == "embeddings":
        return [Change("embedding layer", "embeddings", "representation", picked("emb-rep", 2))]
    temperatures = [0.5, 1.5, 0.8, 2.0, 1.2, 0.7, 1.1, 1.4, 0.9, 1.3]
    top_k = [5, 10, 20, 40, 0, 3, 7, 15, 30, 50]
    top_p = [0.5, 0.9, 0.7, 0.95, 1.0, 0.6, 0.8, 0.85, 0.75, 0.99]
    return [
        Change("temperature", "next_token", "temperature", typed("nt-temperature", temperatures)),
        Change("top-k", "next_token", "top_k", typed("nt-top-k", top_k)),
        Change("top-p", "next_token", "top_p", typed("nt-top-p", top_p)),
    ]


def timed_change(page, change: Change, i: int) -> tuple[float, float | None]:
    """(seconds from the input to the new view drawn, server milliseconds)."""
    page.evaluate("performance.clearResourceTimings()")
    drawn = page.evaluate(DRAWN, change.view)
    value = change.act(page, i)
    args = [change.view, change.field, value, drawn]
    took_ms = page.wait_for_function(SHOWS, arg=args, timeout=CHANGE_MS).json_value()
    return took_ms / 1000, page.evaluate(SERVER_MS)


def warm_embedding_fits(page, count: int) -> None:
    """Pick each layer once, untimed: the benchmark times a re-slice into cached fits."""
    act = picked("emb-rep", 2)
    for i in range(count):
        drawn = page.evaluate(DRAWN, "embeddings")
        act(page, i)
        page.wait_for_function(SHOWS, arg=["embeddings", "", None, drawn], timeout=FIRST_VIEW_MS)


def open_tab(page, tab: str) -> None:
    page.get_by_role("tab", name=TABS[tab]).click()
    page.wait_for_function(SHOWS, arg=[VIEWS[tab], "", None, 0], timeout=FIRST_VIEW_MS)


def measure_page(url: str, model: str, text: str, tabs: tuple, repeats: int) -> list[dict]:
    """Rows for one model and input: every change of the tabs' rows, `repeats` times."""
    from playwright.sync_api import sync_playwright

    rows = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            link = {"model": model, "text": text, "tab": tabs[0]}
            page.goto(f"{url}?{urlencode(link)}")
            page.evaluate(CLOCK)
            page.locator("#status").get_by_text("forward pass").wait_for(timeout=FIRST_VIEW_MS)
            for tab in tabs:
                open_tab(page, tab)
                if tab == "embeddings":
                    warm_embedding_fits(page, repeats)
                for change in changes(tab):
                    timings = [timed_change(page, change, i) for i in range(repeats)]
                    rows.append(row_of(change.row, model, timings))
        finally:
            browser.close()
    return rows


def row_of(name: str, model: str, timings: list[tuple[float, float | None]]) -> dict:
    screen = [s for s, _ in timings]
    server = [ms / 1000 for _, ms in timings if ms is not None]
    return {
        "interaction": name,
        "model": model.split("/")[-1],
        "median_s": statistics.median(screen),
        "worst_s": max(screen),
        "server_s": statistics.median(server) if server else None,
        "n": len(screen),
    }


def measure(url: str, repeats: int = 5, sizes: tuple[int, ...] = SIZES) -> list[dict]:
    """Every row of the plan at every size (see the module docstring)."""
    from attention_bench import text_of_length

    rows = []
    for tokens in sizes:
        for model, tabs in PLAN:
            text = text_of_length(model, tokens)
            for row in measure_page(url, model, text, tabs, repeats):
                rows.append({**row, "tokens": tokens, "target_s": target(row, tokens)})
            print(f"  browser: {model.split('/')[-1]} at {tokens} tokens", file=sys.stderr)
    return rows


def target(row: dict, tokens: int) -> float:
    short, long = TARGETS[row["interaction"]]
    return long if tokens > 200 else short


def markdown(rows: list[dict]) -> list[str]:
    """The table for RESULTS.md: screen time beside the server's answer time."""
    lines = [
        "| interaction | model | tokens | on screen, median | worst | server answer, median "
        "| screen − server | target | verdict |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        server = "-" if r["server_s"] is None else f"{1000 * r['server_s']:.0f} ms"
        gap = "-" if r["server_s"] is None else f"{1000 * (r['median_s'] - r['server_s']):.0f} ms"
        met = r["median_s"] <= r["target_s"]
        verdict = "ok" if met else f"**missed** (+{1000 * (r['median_s'] - r['target_s']):.0f} ms)"
        lines.append(
            f"| {r['interaction']} | {r['model']} | {r['tokens']} "
            f"| {1000 * r['median_s']:.0f} ms | {1000 * r['worst_s']:.0f} ms | {server} | {gap} "
            f"| <= {1000 * r['target_s']:.0f} ms | {verdict} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running app; without it one is started")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    args = parser.parse_args()
    sizes = tuple(int(s) for s in args.sizes.split(","))
    if args.url:
        rows = measure(args.url, args.repeats, sizes)
    else:
        process, url, _ = start_app()
        try:
            rows = measure(url, args.repeats, sizes)
        finally:
            stop_app(process)
    print("\n".join(markdown(rows)))


if __name__ == "__main__":
    main()
