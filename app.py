"""Transformer Anatomy: compose the panels and launch. No logic lives here."""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from components import attention, embeddings, next_token, shell, tokenization  # noqa: E402
from components.common import wire_language  # noqa: E402
from components.i18n import t  # noqa: E402
from models.catalog import list_models  # noqa: E402

PANELS = (
    ("tab.tokenization", tokenization),
    ("tab.embeddings", embeddings),
    ("tab.attention", attention),
    ("tab.next_token", next_token),
)


def models() -> list[dict]:
    """API: the models this app knows, bundled first."""
    return list_models()


def build_demo() -> gr.Blocks:
    """The whole app as a gr.Blocks (launch it, or mount it in a FastAPI app)."""
    with gr.Blocks(title=t("app.title")) as demo:
        gr.Markdown(f"# {t('app.title')}\n{t('app.tagline')}")
        ctx = shell.build()
        with gr.Tabs():
            for label, panel in PANELS:
                with gr.Tab(t(label), id=label) as tab:
                    panel.build(ctx)
                ctx.tr(tab, label, "label")
        wire_language(ctx)
        gr.api(models, api_name="models")
        demo.load(
            shell.run_analysis,
            [ctx.model, ctx.text, ctx.text_pair, ctx.lang],
            [ctx.key, ctx.status],
            api_visibility="private",
        )
    return demo


if __name__ == "__main__":
    build_demo().queue(default_concurrency_limit=4).launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
    )
