"""Lesson mode: the course as an ordered walk, one prepared example per step.

The steps live in assets/lessons.json: tokenization -> token embeddings ->
positional encoding -> self-attention -> multi-head -> decoder mask -> softmax
and sampling -> encoder vs decoder vs encoder-decoder. Each has a short
explanation (ko/en), the tab to open, and an example per language (Korean
examples run on Gemma-3, which reads Korean), optionally with panel settings
that are applied to controls panels shared under those names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import gradio as gr

from components.page.context import PanelContext
from components.page.i18n import t
from components.page.input_row import analyse
from components.page.share import tab_id

LESSONS_FILE = Path(__file__).resolve().parents[2] / "assets" / "lessons.json"


@dataclass(frozen=True)
class Example:
    model: str
    text: str
    text_pair: str = ""


@dataclass(frozen=True)
class Step:
    id: str
    tab: str
    title: dict[str, str]
    body: dict[str, str]
    examples: dict[str, Example]
    controls: dict[str, object]
    sections: tuple[str, ...] = ()  # accordions the step opens ("walkthrough" ...)

    def example(self, lang: str) -> Example:
        return self.examples.get(lang) or self.examples["en"]


@lru_cache(maxsize=1)
def steps() -> tuple[Step, ...]:
    """The course, in teaching order."""
    data = json.loads(LESSONS_FILE.read_text(encoding="utf-8"))
    return tuple(
        Step(
            id=s["id"],
            tab=s["tab"],
            title=s["title"],
            body=s["body"],
            examples={lang: Example(**ex) for lang, ex in s["example"].items()},
            controls=s.get("controls", {}),
            sections=tuple(s.get("open", ())),
        )
        for s in data["steps"]
    )


def step_at(index) -> Step:
    """The step at a 0-based index, clamped to the course."""
    try:
        index = int(index)
    except (TypeError, ValueError):
        index = 0
    return steps()[max(0, min(index, len(steps()) - 1))]


def step_choices(lang: str) -> list[tuple[str, int]]:
    """Radio choices: "1 · Tokenization" ... in the page language."""
    return [(f"{i + 1} · {s.title.get(lang, s.title['en'])}", i) for i, s in enumerate(steps())]


def step_markdown(index, lang: str) -> str:
    """The step's explanation and what its example will load, as Markdown."""
    step = step_at(index)
    example = step.example(lang)
    number = steps().index(step) + 1
    return "\n\n".join(
        (
            f"### {number} / {len(steps())} · {step.title.get(lang, step.title['en'])}",
            step.body.get(lang, step.body["en"]),
            t("lesson.example_line", lang, text=example.text, model=example.model),
        )
    )


def wanted_settings(step: Step) -> dict:
    """What the step asks the panels for: its control values and the sections to open."""
    wanted = {name: value for name, value in step.controls.items()}
    if step.sections:
        wanted["open"] = list(step.sections)
    return wanted


def open_step(index, lang: str, shown: list, progress=None) -> tuple:
    """Everything a step shows, in one answer: (step index, explanation, model, text,
    text_pair, tabs, current tab name, session key, status). The key carries the
    step's settings, so each panel applies them to its own controls."""
    step = step_at(index)
    number = steps().index(step)
    example = step.example(lang)
    key, status = analyse(
        example.model, example.text, example.text_pair, lang, shown, wanted_settings(step), progress
    )
    return (
        number,
        step_markdown(number, lang),
        example.model,
        example.text,
        example.text_pair,
        gr.Tabs(selected=tab_id(step.tab)),
        step.tab,
        key,
        status,
    )


@dataclass
class LessonBar:
    step: gr.Radio  # the 0-based index of the current step
    body: gr.Markdown
    previous: gr.Button
    run: gr.Button  # loads the step's example again
    following: gr.Button


def build(ctx: PanelContext, enabled: gr.Checkbox) -> LessonBar:
    """The lesson bar (shown while `enabled` is ticked)."""
    with gr.Column(visible=False, elem_id="lesson", elem_classes="lesson") as column:
        with gr.Row(equal_height=False, elem_id="lesson-nav"):
            step = gr.Radio(
                step_choices("en"),
                value=0,
                show_label=False,
                container=False,
                scale=5,
                elem_id="lesson-step",
            )
            previous = gr.Button(t("lesson.previous"), size="sm", scale=0, elem_id="lesson-prev")
            run = gr.Button(
                t("lesson.try"), variant="primary", size="sm", scale=0, elem_id="lesson-try"
            )
            following = gr.Button(t("lesson.next"), size="sm", scale=0, elem_id="lesson-next")
        body = gr.Markdown(step_markdown(0, "en"), elem_id="lesson-body")
    ctx.tr(previous, "lesson.previous")
    ctx.tr(run, "lesson.try")
    ctx.tr(following, "lesson.next")
    enabled.change(
        lambda on: gr.Column(visible=bool(on)),
        enabled,
        column,
        queue=False,
        api_visibility="private",
    )
    ctx.lang.change(
        lambda index, lang: (gr.Radio(choices=step_choices(lang)), step_markdown(index, lang)),
        [step, ctx.lang],
        [step, body],
        queue=False,
        api_visibility="private",
    )
    step.change(step_markdown, [step, ctx.lang], body, queue=False, api_visibility="private")
    return LessonBar(step, body, previous, run, following)


# A Previous / Next click moves the step picker in the page at once, and every quick
# click counts: the page remembers the step it asked for (clicks made before the
# picker shows it count from there). The analysis event that follows reads the picker
# when it runs, and Gradio runs only the last of the events waiting, so the page ends
# on the step clicked to. Picking a step by hand starts counting afresh.
MOVE_JS = """(index) => {{
  const shown = Number(index || 0);
  const asked = window.anatomyLessonMove;
  const base = asked && (shown === asked.from || shown === asked.to) ? asked.to : shown;
  const to = Math.min(Math.max(base + {move}, 0), {last});
  window.anatomyLessonMove = {{ from: asked && base === asked.to ? asked.from : shown, to }};
  return to;
}}"""
FORGET_MOVES_JS = "() => { window.anatomyLessonMove = null; return []; }"


def wire_steps(ctx: PanelContext, bar: LessonBar, tabs: gr.Tabs, current_tab) -> None:
    """Picking a step, Previous, Next and "Load this example" each open the step in one
    event: its example analysed, its tab shown, its settings applied by the panels.
    The picker is the page's own record of the step (the explanation follows it); the
    events never write it back, so a late answer cannot undo a later click."""
    outputs = [ctx.model, ctx.text, ctx.text_pair, tabs, current_tab, ctx.key, ctx.status]
    last = len(steps()) - 1
    moves = (
        (bar.step.input, 0),
        (bar.previous.click, -1),
        (bar.run.click, 0),
        (bar.following.click, 1),
    )

    def go(index, lang, shown, progress=gr.Progress()):
        return open_step(min(max(int(index or 0), 0), last), lang, shown, progress)[2:]

    bar.step.input(None, None, None, js=FORGET_MOVES_JS, queue=False, api_visibility="private")
    for trigger, move in moves:
        if move:
            js = MOVE_JS.format(move=move, last=last)
            trigger(None, bar.step, bar.step, js=js, queue=False, api_visibility="private")
        event = trigger(
            go,
            [bar.step, ctx.lang, ctx.key],
            outputs,
            concurrency_limit=4,
            trigger_mode="always_last",
            api_visibility="private",
        )
        ctx.request(event, trigger)
