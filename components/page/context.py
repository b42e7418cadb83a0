"""What every panel shares: fetching the cached analysis, and errors as gr.Error."""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import gradio as gr
from gradio.context import Context

from components.page.i18n import t
from components.page.share import truthy
from models.analysis import Analysis
from models.errors import AnatomyError
from models.results import AnalysisKey, get_analysis

# Every analysis request gets a new number, so the session key changes (and every
# panel redraws and applies its wanted settings) even when the text is the same.
_REQUESTS = itertools.count(1)


def session_key(model: str, text: str, text_pair: str = "", wanted: dict | None = None) -> list:
    """The key a session holds: [model, text, text_pair, request number, wanted].

    `wanted` maps shared control names ("layer", "emb_layer", "open" ...) to the
    values a shared link or a lesson step asks for. The panels apply them when they
    see the new key, so each control has one writer: its panel.
    """
    analysis = AnalysisKey.of(model, text, text_pair)
    return [*analysis, next(_REQUESTS), dict(wanted or {})]


def analysis_key(key) -> AnalysisKey:
    """The (model, text, text_pair) part of a session key."""
    return AnalysisKey.of(*list(key)[:3])


def wanted_values(key) -> dict:
    """The settings a session key asks the panels to apply (empty when none)."""
    return key[4] if key and len(key) > 4 and isinstance(key[4], dict) else {}


def asked(key, name: str, current, convert: Callable | None = None, choices=None):
    """The value the session key asks for control `name`, or `current` when it asks
    for none or for one that doesn't fit: with `choices` (what the control offers for
    this analysis) the value must be one of them; with `convert` (int, float, bool)
    it must convert. A panel calls this when it sees a new key, and only then."""
    raw = wanted_values(key).get(name)
    if raw is None:
        return current
    if choices is not None:
        return next((c for c in choices if str(c) == str(raw)), current)
    if convert is bool:
        return raw if isinstance(raw, bool) else truthy(str(raw))
    try:
        return convert(float(raw)) if convert is int else (convert or str)(raw)
    except (TypeError, ValueError, OverflowError):
        return current


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
    sections: dict[str, gr.Accordion] = field(default_factory=dict)
    # (trigger, event) of every event that starts an analysis; see cancel_each_other
    requests: list[tuple[Callable, object]] = field(default_factory=list)
    # The page-wide relabel event, registered before any panel's own language handler
    # (see reserve_language_switch); wire_language fills in its outputs.
    language_switch: LanguageSwitch | None = None

    def share(self, component, name: str):
        """Register a control (layer, head, temperature ...) whose value belongs in a
        shared link, under a short URL parameter `name`; returns the component."""
        self.shared[name] = component
        return component

    def request(self, event, trigger: Callable):
        """Register an event that produces a new session key. Each such event cancels
        the others still running (a late answer to an earlier click must not replace
        a later one). `trigger` is the listener that started it, e.g. `button.click`."""
        self.requests.append((trigger, event))
        return event

    def section(self, accordion: gr.Accordion, name: str) -> gr.Accordion:
        """Register an accordion that a lesson step can open by `name`."""
        self.sections[name] = accordion
        return accordion

    def tr(self, component, key: str, attr: str = "value"):
        """Register `component` so its `attr` ("value", "label" or "info") shows the
        string `key` in the chosen language; returns the component."""
        self.translated.append((component, key, attr))
        return component


def user_error(exc: Exception, lang: str = "en") -> gr.Error:
    """A gr.Error whose message a student can act on; never a stack trace."""
    if isinstance(exc, AnatomyError):
        # Gradio's toast renders its message as HTML: what the user typed (a model id,
        # a path) goes in escaped, or "<img src=...>" in the model box loads an image.
        params = {name: _text_only(value) for name, value in exc.params.items()}
        message = t(exc.key, lang, **params)
        if message == exc.key:
            message = _text_only(str(exc))
        return gr.Error(message)
    return gr.Error(t("error.internal", lang, kind=type(exc).__name__))


def _text_only(value: object) -> object:
    """Escape <, > and & of a string so HTML shows it as text (quotes stay readable)."""
    return html.escape(value, quote=False) if isinstance(value, str) else value


def analysis_for(key, lang: str = "en", progress: Callable | None = None) -> Analysis:
    """The cached Analysis behind a session's key (recomputed if it was evicted)."""
    if not key:
        raise gr.Error(t("error.no_analysis", lang))
    try:
        return get_analysis(*analysis_key(key), progress=progress)
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


def code_span(text: str) -> str:
    """Token or user text as a Markdown code span: shown verbatim, never read as Markdown
    or HTML (the fence is longer than any run of backticks inside)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def explanation(key: str, lang: str) -> str:
    """The panel's one-paragraph explanation of its concept, as Markdown."""
    return t(key, lang)


@dataclass
class LanguageSwitch:
    """The relabel event: component id -> {attr: key}, and its outputs in order."""

    strings: dict[int, dict[str, str]] = field(default_factory=dict)
    components: dict[int, gr.components.Component] = field(default_factory=dict)
    outputs: list | None = None  # the event's own output list, filled by wire_language

    def relabel(self, lang: str) -> list:
        return [
            gr.update(**{attr: t(key, lang) for attr, key in self.strings[cid].items()})
            for cid in self.components
        ]


def reserve_language_switch(ctx: PanelContext) -> None:
    """Register the relabel event now, before the panels add their own language
    handlers: the browser dispatches a change in registration order, so labels flip
    at once instead of after every panel has re-rendered its figures."""
    switch = LanguageSwitch()
    event = ctx.lang.change(switch.relabel, ctx.lang, [], api_visibility="private", queue=False)
    root = Context.root_block
    block_fn = root.fns.get(dict(event)["id"]) if root is not None else None
    if block_fn is not None:
        switch.outputs = block_fn.outputs
        ctx.language_switch = switch


def wire_language(ctx: PanelContext) -> None:
    """One language switch for every registered string (call after all panels are built)."""
    switch = ctx.language_switch or LanguageSwitch()
    for component, key, attr in ctx.translated:
        switch.components[id(component)] = component
        switch.strings.setdefault(id(component), {})[attr] = key
    if switch.outputs is not None:
        switch.outputs.extend(switch.components.values())
        return
    ctx.lang.change(
        switch.relabel,
        ctx.lang,
        list(switch.components.values()),
        api_visibility="private",
        queue=False,
    )


def whole_number(value: object, name: str) -> int:
    """`value` as an int for an API knob, or a gr.Error naming the knob."""
    try:
        number = float(value)
        if number != int(number):
            raise ValueError
        return int(number)
    except (TypeError, ValueError, OverflowError):
        raise gr.Error(f"{name} must be a whole number.") from None


def cancel_each_other(ctx: PanelContext) -> None:
    """Each analysis request cancels the pending ones of the other triggers (its own
    trigger's earlier run is handled by trigger_mode="always_last")."""
    for trigger, event in ctx.requests:
        others = [other for _, other in ctx.requests if other is not event]
        if trigger is not None and others:
            trigger(None, None, None, cancels=others, queue=False, api_visibility="private")
