"""Attention sub-panel (bertviz_view); built inside the Attention tab."""

from __future__ import annotations

import gradio as gr

from components.common import PanelContext
from components.i18n import t


def build(ctx: PanelContext) -> None:
    ctx.tr(gr.Markdown(t("panel.coming")), "panel.coming")
