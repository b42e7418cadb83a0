"""Transformer Anatomy: compose the panels and launch. No logic lives here."""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import gradio as gr  # noqa: E402

from components import attention, block, embeddings, next_token, tokenization  # noqa: E402
from components.page import export, input_row, layout  # noqa: E402
from components.page.context import wire_language  # noqa: E402
from components.page.i18n import t  # noqa: E402
from components.page.layout import launch_kwargs  # noqa: E402
from models.device import device_plan  # noqa: E402
from models.loading.catalog import list_models  # noqa: E402
from models.loading.load import import_model_code  # noqa: E402
from models.runtime import limit_malloc_arenas  # noqa: E402

READY = "ready: model code imported"
PANELS = (
    ("tokenization", tokenization),
    ("embeddings", embeddings),
    ("attention", attention),
    ("block", block),
    ("next_token", next_token),
)


def models() -> list[dict]:
    """API: the models this app knows, bundled first."""
    return list_models()


def build_demo() -> gr.Blocks:
    """The whole app as a gr.Blocks. Launch it with `launch(**launch_kwargs())`
    (theme, offline fonts and the page CSS), or mount it in a FastAPI app."""
    with gr.Blocks(title=t("app.title")) as demo:
        top = layout.build_top()
        ctx = input_row.build(top.lang)
        page = layout.build_header(ctx, top)
        with gr.Tabs(elem_id="panels", overflow_behavior="wrap") as tabs:
            tab_items = {}
            for name, panel in PANELS:
                label = f"tab.{name}"
                with gr.Tab(t(label), id=label, elem_id=f"tab-{name}") as tab:
                    panel.build(ctx)
                ctx.tr(tab, label, "label")
                tab_items[name] = tab
        layout.track_tabs(page, tabs, tab_items)
        export.build(ctx)
        wire_language(ctx)
        layout.wire(demo, ctx, page)
        gr.api(models, api_name="models")
    return demo


if __name__ == "__main__":
    limit_malloc_arenas()
    print(f"models run on: {device_plan().label}", flush=True)  # chosen once, here
    demo = build_demo().queue(default_concurrency_limit=4)
    demo.launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        prevent_thread_lock=True,
        **launch_kwargs(),
    )
    # the page is served already; the first model load should not pay for this
    import_model_code()
    print(READY, flush=True)
    demo.block_thread()
