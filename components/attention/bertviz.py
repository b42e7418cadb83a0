"""bertviz head view and model view, offline, in a sandboxed iframe.

bertviz writes a notebook snippet that fetches require.js, d3 and jQuery from a
CDN, and puts its attention JSON in twice. Here its own HTML (html_action=
'return') is rewritten into a standalone document: the CDN tag and require
paths removed, the vendored copies from assets/vendor inlined, the duplicated
JSON dropped, weights rounded to 3 decimals, and tokens and layers capped so
the document stays well under 2 MB. It runs in `<iframe srcdoc sandbox=
"allow-scripts">` (gr.HTML never runs scripts; no allow-same-origin, so the
frame can't reach the page).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from components.page.context import PanelContext, analysis_for, escape
from components.page.i18n import t
from models.analysis import Analysis
from models.lenses.walkthrough import bertviz_layers
from models.loading.catalog import ENCODER_DECODER

VENDOR = Path(__file__).resolve().parents[2] / "assets" / "vendor"
# d3 and jQuery go in BEFORE require.js, so they set window.d3 / window.jQuery
# instead of calling an anonymous define() that require.js would reject.
VENDOR_SCRIPTS = ("d3/d3.min.js", "jquery/jquery.min.js", "requirejs/require.js")
AMD_SHIM = (
    "define('d3', [], function () { return window.d3; });\n"
    "define('jquery', [], function () { return window.jQuery; });"
)
HEAD_VIEW, MODEL_VIEW = "head", "model"
MAX_TOKENS = {HEAD_VIEW: 64, MODEL_VIEW: 32}
MAX_LAYERS = {HEAD_VIEW: 12, MODEL_VIEW: 4}
MAX_WEIGHTS = 160_000  # attention values in one document (~0.8 MB of JSON)
CDN_TAG = re.compile(r"<script src=\"https://cdnjs[^\"]*\"></script>")
REQUIRE_CONFIG = re.compile(r"require\.config\(\{.*?\}\);", re.DOTALL)
PARAMS_COMMENT = " is a template marker that is replaced by actual params."


@dataclass(frozen=True)
class ViewCaps:
    """What part of the analysis a bertviz document shows."""

    n_tokens: int  # first tokens shown (encoder side for seq2seq)
    n_decoder_tokens: int  # first decoder tokens shown (0 unless seq2seq)
    layers: tuple[int, ...]  # layer indices shown
    tokens_cut: bool
    layers_cut: bool


def view_caps(analysis: Analysis, view: str, first_layer: int = 0) -> ViewCaps:
    """Tokens and layers given to bertviz: at most MAX_TOKENS, and as many layers from
    `first_layer` as MAX_LAYERS and MAX_WEIGHTS allow."""
    n_tokens = min(analysis.n_tokens, MAX_TOKENS[view])
    n_dec = 0
    n_layers = analysis.n_layers
    if analysis.family == ENCODER_DECODER:
        n_dec = min(len(analysis.decoder_tokens), MAX_TOKENS[view])
        n_layers = min(n_layers, analysis.decoder_attentions.shape[0])
    per_layer = analysis.n_heads * (n_tokens + n_dec) ** 2
    fit = max(1, min(MAX_LAYERS[view], MAX_WEIGHTS // per_layer))
    first = max(0, min(int(first_layer), n_layers - 1))
    layers = tuple(range(first, min(n_layers, first + fit)))
    return ViewCaps(
        n_tokens=n_tokens,
        n_decoder_tokens=n_dec,
        layers=layers,
        tokens_cut=n_tokens < analysis.n_tokens
        or (n_dec > 0 and n_dec < len(analysis.decoder_tokens)),
        layers_cut=len(layers) < n_layers,
    )


def token_labels(tokens) -> list[str]:
    """Display text of each token (its piece for specials and empty spans)."""
    return [tok.text if tok.text.strip() and not tok.special else tok.piece for tok in tokens]


def bertviz_html(analysis: Analysis, view: str, caps: ViewCaps) -> str:
    """bertviz's own HTML snippet for the capped analysis (still pointing at its CDN)."""
    from bertviz import head_view, model_view

    t, layers = caps.n_tokens, list(caps.layers)
    draw = head_view if view == HEAD_VIEW else model_view
    options = {"html_action": "return", "prettify_tokens": False, "include_layers": layers}
    if view == MODEL_VIEW:
        options["display_mode"] = "light"
    if analysis.family == ENCODER_DECODER:
        d = caps.n_decoder_tokens
        result = draw(
            encoder_attention=bertviz_layers(analysis.attentions[:, :, :t, :t]),
            decoder_attention=bertviz_layers(analysis.decoder_attentions[:, :, :d, :d]),
            cross_attention=bertviz_layers(analysis.cross_attentions[:, :, :d, :t]),
            encoder_tokens=token_labels(analysis.tokens[:t]),
            decoder_tokens=token_labels(analysis.decoder_tokens[:d]),
            **options,
        )
    else:
        result = draw(
            attention=bertviz_layers(analysis.attentions[:, :, :t, :t]),
            tokens=token_labels(analysis.tokens[:t]),
            **options,
        )
    return result.data


def _vendor_script(relative: str) -> str:
    source = (VENDOR / relative).read_text(encoding="utf-8")
    if "</script" in source.lower():
        raise ValueError(f"{relative} contains '</script' and can't be inlined")
    return f"<script>/* {relative} (assets/vendor) */\n{source}\n</script>"


def drop_duplicate_params(script: str) -> str:
    """bertviz replaces PYTHON_PARAMS in its code AND in the comment beside it; keep the code's,
    and escape '<' inside the JSON so a token like '</script>' can't end the script."""
    start = script.index("const params = ") + len("const params = ")
    comment = script.index("; // HACK: ", start)
    comment_end = script.index(PARAMS_COMMENT, comment) + len(PARAMS_COMMENT)
    params = script[start:comment].replace("<", "\\u003c")
    return script[:start] + params + ";" + script[comment_end:]


def offline_document(snippet: str, lang: str = "en") -> str:
    """bertviz's snippet -> a standalone HTML document with no network request."""
    body = CDN_TAG.sub("", snippet)
    body = REQUIRE_CONFIG.sub("", body, count=1)
    body = drop_duplicate_params(body)
    scripts = "\n".join(_vendor_script(path) for path in VENDOR_SCRIPTS)
    return (
        f'<!DOCTYPE html><html lang="{escape(lang)}"><head><meta charset="utf-8">'
        "<style>body{margin:8px;background:#fff;color:#222;font-family:"
        "'Helvetica Neue',Helvetica,Arial,'Noto Sans KR','Noto Sans CJK KR',sans-serif}</style>"
        f"</head><body>\n{scripts}\n<script>{AMD_SHIM}</script>\n{body}\n</body></html>"
    )


def frame_height(analysis: Analysis, view: str, caps: ViewCaps) -> int:
    """Pixels the iframe needs (bertviz's own layout constants), within [300, 1200]."""
    rows = max(caps.n_tokens, caps.n_decoder_tokens)
    if view == HEAD_VIEW:
        needed = rows * 22.5 + 90
    else:
        box = 7 * 12 / analysis.n_heads
        needed = len(caps.layers) * (rows * box + 10) + 80
    return int(min(1200, max(300, needed)))


def iframe(document: str, height: int, title: str) -> str:
    """The document in a sandboxed iframe: scripts run, but with an opaque origin."""
    return (
        f'<iframe class="bertviz-frame" title="{escape(title)}" sandbox="allow-scripts" '
        f'style="width:100%;height:{height}px;border:1px solid #ddd;border-radius:6px" '
        f'srcdoc="{escape(document)}"></iframe>'
    )


def cap_note(analysis: Analysis, caps: ViewCaps, lang: str) -> str:
    """Markdown saying what bertviz shows, and what it leaves to the plotly views."""
    first, last = caps.layers[0], caps.layers[-1]
    lines = [
        t("bertviz.shows", lang, tokens=caps.n_tokens, n=caps.n_tokens, first=first, last=last)
    ]
    if caps.tokens_cut:
        lines.append(t("bertviz.tokens_cut", lang, shown=caps.n_tokens, total=analysis.n_tokens))
    if caps.layers_cut:
        lines.append(t("bertviz.layers_cut", lang, total=analysis.n_layers))
    return "\n\n".join(lines)


def render(key: list, view: str, first_layer: int, lang: str) -> tuple[str, str]:
    """(iframe HTML, Markdown note) for the session's analysis."""
    analysis = analysis_for(key, lang)
    view = view if view in MAX_TOKENS else HEAD_VIEW
    caps = view_caps(analysis, view, first_layer)
    document = offline_document(bertviz_html(analysis, view, caps), lang)
    title = t(f"bertviz.{view}_view", lang)
    return iframe(document, frame_height(analysis, view, caps), title), cap_note(
        analysis, caps, lang
    )


def _view_choices(lang: str) -> list[tuple[str, str]]:
    return [(t("bertviz.head_view", lang), HEAD_VIEW), (t("bertviz.model_view", lang), MODEL_VIEW)]


def build(ctx: PanelContext) -> None:
    ctx.tr(gr.Markdown(t("bertviz.explain")), "bertviz.explain")
    with gr.Row():
        view = gr.Radio(_view_choices("en"), value=HEAD_VIEW, label=t("bertviz.view"))
        first_layer = gr.Number(value=0, minimum=0, precision=0, label=t("bertviz.first_layer"))
        draw = gr.Button(t("bertviz.draw"), variant="secondary")
    ctx.tr(view, "bertviz.view", "label")
    ctx.tr(first_layer, "bertviz.first_layer", "label")
    ctx.tr(draw, "bertviz.draw")
    note = gr.Markdown()
    frame = gr.HTML(elem_classes=["bertviz-view"])
    inputs = [ctx.key, view, first_layer, ctx.lang]
    draw.click(render, inputs, [frame, note], api_visibility="private", concurrency_limit=2)
    for control in (view, first_layer):  # .input: only a user's change redraws
        control.input(render, inputs, [frame, note], api_visibility="private", concurrency_limit=2)
    ctx.key.change(
        lambda lang: ("", t("bertviz.press_draw", lang)),
        ctx.lang,
        [frame, note],
        api_visibility="private",
        queue=False,
    )
    ctx.lang.change(
        lambda lang, chosen: gr.update(choices=_view_choices(lang), value=chosen),
        [ctx.lang, view],
        view,
        api_visibility="private",
        queue=False,
    )
