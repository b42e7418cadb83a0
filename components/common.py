"""What every panel shares: fetching the cached analysis, and errors as gr.Error."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field

import gradio as gr

from components.i18n import t
from models.analysis import Analysis
from models.errors import AnatomyError
from models.results import AnalysisKey, get_analysis


@dataclass
class PanelContext:
    """The shared input row every panel reads: its components, created by app.py."""

    model: gr.Dropdown
    text: gr.Textbox
    text_pair: gr.Textbox
    lang: gr.Radio
    key: gr.State  # the AnalysisKey (as a list) of the current analysis, never arrays
    analyze: gr.Button
    status: gr.Markdown
    translated: list[tuple[gr.components.Component, str, str]] = field(default_factory=list)
    shared: dict[str, gr.components.Component] = field(default_factory=dict)

    def share(self, component, name: str):
        """Register a control (layer, head, temperature ...) whose value belongs in a
        shared link, under a short URL parameter `name`; returns the component."""
        self.shared[name] = component
        return component

    def tr(self, component, key: str, attr: str = "value"):
        """Register `component` so its `attr` ("value", "label" or "info") shows the
        string `key` in the chosen language; returns the component."""
        self.translated.append((component, key, attr))
        return component


def user_error(exc: Exception, lang: str = "en") -> gr.Error:
    """A gr.Error whose message a student can act on; never a stack trace."""
    if isinstance(exc, AnatomyError):
        message = t(exc.key, lang, **exc.params)
        if message == exc.key:
            message = str(exc)
        return gr.Error(message)
    return gr.Error(t("error.internal", lang, kind=type(exc).__name__))


def analysis_for(key, lang: str = "en", progress: Callable | None = None) -> Analysis:
    """The cached Analysis behind a session's key (recomputed if it was evicted)."""
    if not key:
        raise gr.Error(t("error.no_analysis", lang))
    try:
        return get_analysis(*AnalysisKey(*key), progress=progress)
    except gr.Error:
        raise
    except Exception as exc:  # noqa: BLE001 - every failure becomes a readable message
        raise user_error(exc, lang) from exc


def analysis_of(model: str, text: str, text_pair: str | None = None) -> Analysis:
    """The Analysis for API calls: (model, text) in, gr.Error out on bad input."""
    return analysis_for(list(AnalysisKey.of(model, text, text_pair)))


def escape(text: str) -> str:
    """HTML-escape user or token text (quotes included)."""
    return html.escape(text, quote=True)


def explanation(key: str, lang: str) -> str:
    """The panel's one-paragraph explanation of its concept, as Markdown."""
    return t(key, lang)


def wire_language(ctx: PanelContext) -> None:
    """One language switch for every registered string (call after all panels are built)."""
    strings: dict[int, dict[str, str]] = {}
    components: dict[int, gr.components.Component] = {}
    for component, key, attr in ctx.translated:
        components[id(component)] = component
        strings.setdefault(id(component), {})[attr] = key

    def relabel(lang: str) -> list:
        return [
            gr.update(**{attr: t(key, lang) for attr, key in strings[cid].items()})
            for cid in components
        ]

    ctx.lang.change(
        relabel, ctx.lang, list(components.values()), api_visibility="private", queue=False
    )
