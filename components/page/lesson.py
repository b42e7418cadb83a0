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
from components.page.share import control_value, tab_id

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


def example_updates(index, lang: str) -> tuple:
    """(model, text, text_pair, tabs, current tab name) for the step's example."""
    step = step_at(index)
    example = step.example(lang)
    tabs = gr.Tabs(selected=tab_id(step.tab))
    return example.model, example.text, example.text_pair, tabs, step.tab


def control_updates(index, names: list[str], shared: dict) -> list:
    """Updates for the shared controls the step sets (others unchanged)."""
    wanted = step_at(index).controls
    updates = []
    for name in names:
        value = None
        if name in wanted:
            value = control_value(shared[name], str(wanted[name]))
        updates.append(gr.update() if value is None else gr.update(value=value))
    return updates


@dataclass
class LessonBar:
    step: gr.Radio  # the 0-based index of the current step
    run: gr.Button  # loads the step's example


def build(ctx: PanelContext, enabled: gr.Checkbox) -> LessonBar:
    """The lesson bar (shown while `enabled` is ticked)."""
    with gr.Column(visible=False, elem_id="lesson", elem_classes="lesson") as column:
        step = gr.Radio(step_choices("en"), value=0, label=t("lesson.steps"), elem_id="lesson-step")
        body = gr.Markdown(step_markdown(0, "en"), elem_id="lesson-body")
        with gr.Row():
            previous = gr.Button(t("lesson.previous"), size="sm", elem_id="lesson-prev")
            run = gr.Button(t("lesson.try"), variant="primary", size="sm", elem_id="lesson-try")
            following = gr.Button(t("lesson.next"), size="sm", elem_id="lesson-next")
    ctx.tr(step, "lesson.steps", "label")
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
    step.change(step_markdown, [step, ctx.lang], body, queue=False, api_visibility="private")
    ctx.lang.change(
        lambda index, lang: (gr.Radio(choices=step_choices(lang)), step_markdown(index, lang)),
        [step, ctx.lang],
        [step, body],
        queue=False,
        api_visibility="private",
    )
    last = len(steps()) - 1
    private = {"queue": False, "api_visibility": "private"}
    previous.click(lambda i: max(0, int(i or 0) - 1), step, step, **private)
    following.click(lambda i: min(last, int(i or 0) + 1), step, step, **private)
    return LessonBar(step, run)
