"""Hostile and odd inputs a classroom can type: texts, model ids, slider values.

Each entry names what it probes. The tests send every one through every API
endpoint and expect a valid result or a clear message, never a crash.
"""

from __future__ import annotations

from pathlib import Path

# A text of well over the token cap (512) for every tokenizer, 100k characters.
LONG_TEXT = ("Many words make a long text. " * 3449)[:100_000]

# (name, text): texts that are odd but that a model can read -> a valid result.
READABLE_TEXTS: list[tuple[str, str]] = [
    ("control characters", "tab\there\x01\x02\x1b[31mred\x7f"),
    ("NUL inside", "before\x00after"),
    ("emoji ZWJ family", "family: 👩\u200d👩\u200d👧\u200d👦 and flag 🏳️\u200d🌈"),
    ("skin tone and keycap", "👍🏽 1️⃣ #️⃣"),
    ("mixed scripts", "Hello 안녕하세요 こんにちは 你好 Привет"),
    ("right-to-left", "שלום עולם مرحبا بالعالم"),
    ("bidi override", "\u202eevil\u202c text \u2066isolate\u2069"),
    ("zero-width and BOM", "\ufeffzero\u200bwidth\u200djoin"),
    ("combining marks", "Z\u0351\u0354a\u0300\u0301l\u0308go"),
    ("Korean jamo", "ㅎㅏㄴㄱㅡㄹ 한글"),
    ("html script", "<script>alert('x')</script>"),
    ("html img onerror", '<img src=x onerror="alert(1)">'),
    ("html attribute break", '"><svg onload=alert(1)>'),
    ("markdown link and image", "[click](javascript:alert(1)) ![i](https://evil.example/x.png)"),
    ("template braces", "{model} {0} %s {{7*7}} ${7*7}"),
    ("only punctuation", "!!!???..."),
    ("single character", "a"),
    ("newlines", "line one\nline two\r\nline three"),
]

# (name, text): texts where either a valid result or a clear refusal is right.
EITHER_TEXTS: list[tuple[str, str]] = [
    ("NUL only", "\x00"),
    ("zero-width only", "\u200b\u200d"),
]

# (name, text, words expected in the message): texts refused with a reason.
REFUSED_TEXTS: list[tuple[str, str, str]] = [
    ("empty", "", "empty"),
    ("whitespace only", " \t\n\u3000 ", "empty"),
    ("100k characters", LONG_TEXT, "limit"),
]

# Lone surrogates can't travel through gradio_client (it encodes JSON as UTF-8);
# a browser or script can still send them as JSON escapes, so they go raw.
SURROGATE_TEXTS: list[tuple[str, str]] = [
    ("lone high surrogate", '"\\ud800x"'),
    ("lone low surrogate", '"x\\udfff"'),
]


def model_ids(local_root: Path) -> list[tuple[str, str, str]]:
    """(name, model id, words expected in the refusal) for hostile model ids."""
    root = str(local_root)
    return [
        ("empty model", "", "Pick a model"),
        ("blank model", "   ", "Pick a model"),
        ("script tag", "<script>alert(1)</script>", "not a valid model id"),
        ("img onerror", "<img src=x onerror=alert(1)>", "not a valid model id"),
        ("markdown", "**bold** [x](https://evil.example)", "outside"),
        ("markdown no slash", "**bold**_[x]", "not a valid model id"),
        ("path traversal", "../../etc/passwd", "outside"),
        ("hub traversal", "owner/../../etc", "outside"),
        ("absolute path", "/etc", "outside"),
        ("absolute file", "/etc/passwd", "outside"),
        ("home folder", "~/.ssh", "outside"),
        ("unknown home", "~nobody-here/x", "outside"),
        ("html path", "/<img src=x onerror=alert(1)>", "outside"),
        ("windows path", "C:\\Windows\\system32", "outside"),
        ("file url", "file:///etc/passwd", "outside"),
        ("http url", "https://evil.example/model", "outside"),
        ("NUL in path", "/tmp/\x00x", "not a valid model id"),
        ("NUL id", "gpt\x002", "not a valid model id"),
        ("spaces", "bad id with spaces", "not a valid model id"),
        ("bad characters", "owner/na$me!", "not a valid model id"),
        ("three parts", "a/b/c", "outside"),
        ("very long id", "a" * 5000, "not a valid model id"),
        ("fullwidth letters", "ｇｐｔ２", "not a valid model id"),
        ("bidi in id", "\u202egpt2", "not a valid model id"),
        ("offline hub id", "someone/not-downloaded", "can't be reached"),
        ("root itself", root, "not a model folder"),
        ("not a model", f"{root}/not-a-model", "not a model folder"),
        ("broken config", f"{root}/broken-config", "config"),
        ("missing weights", f"{root}/missing-weights", "could not be loaded"),
        ("corrupt weights", f"{root}/corrupt-weights", "could not be loaded"),
        ("escaping symlink", f"{root}/escape-link", "outside"),
    ]


def make_broken_models(local_root: Path, tiny_gpt2: Path) -> None:
    """Broken model folders under the allowed root (idempotent)."""
    import shutil

    (local_root / "not-a-model").mkdir(exist_ok=True)
    broken = local_root / "broken-config"
    broken.mkdir(exist_ok=True)
    (broken / "config.json").write_text("{ not json")
    for name in ("missing-weights", "corrupt-weights"):
        folder = local_root / name
        if not folder.exists():
            shutil.copytree(tiny_gpt2, folder)
    (local_root / "missing-weights" / "model.safetensors").unlink(missing_ok=True)
    (local_root / "corrupt-weights" / "model.safetensors").write_bytes(b"not safetensors" * 8)
    link = local_root / "escape-link"
    if not link.is_symlink():
        link.symlink_to("/etc")


# (endpoint, args after (model, text), words expected): out-of-range knobs.
BAD_KNOBS: list[tuple[str, tuple, str]] = [
    ("/attention", (99, 0), "layer"),
    ("/attention", (-2, 0), "layer"),
    ("/attention", (10**12, 0), "layer"),
    ("/attention", (0, 99), "head"),
    ("/attention", (0, -2), "head"),
    ("/attention", (None, 0), "layer"),
    ("/attention", ("abc", 0), "layer"),
    ("/embeddings", (999, "pca"), "layer"),
    ("/embeddings", (-2, "pca"), "layer"),
    ("/embeddings", (0, "<script>alert(1)</script>"), "method"),
    ("/embeddings", (0, ""), "method"),
    ("/embeddings", (None, "pca"), "layer"),
    ("/next_token", (-1.0, 0, 1.0), "emperature"),
    ("/next_token", (1e9, 0, 1.0), "emperature"),
    ("/next_token", (None, 0, 1.0), "emperature"),
    ("/next_token", (1.0, -1, 1.0), "top-k"),
    ("/next_token", (1.0, None, 1.0), "top-k"),
    ("/next_token", (1.0, 0, 0.0), "top-p"),
    ("/next_token", (1.0, 0, -0.5), "top-p"),
    ("/next_token", (1.0, 0, 1.5), "top-p"),
    ("/next_token", (1.0, 0, None), "top-p"),
]

# Non-finite numbers are not JSON, but Python's json (and so the server) reads
# NaN and Infinity: (endpoint, raw JSON of the args after (model, text), words).
NON_FINITE_KNOBS: list[tuple[str, str, str]] = [
    ("/next_token", "NaN, 0, 1.0", "emperature"),
    ("/next_token", "Infinity, 0, 1.0", "emperature"),
    ("/next_token", "1.0, NaN, 1.0", "top-k"),
    ("/next_token", "1.0, 0, NaN", "top-p"),
    ("/attention", "NaN, 0", "layer"),
    ("/embeddings", 'Infinity, "pca"', "layer"),
]

# Extreme but legal knob values -> a valid result.
EXTREME_KNOBS: list[tuple[str, tuple]] = [
    ("/attention", (-1 + 1, -1)),  # layer 0, mean over heads
    ("/embeddings", (-1, "pca")),  # last layer
    ("/next_token", (0.0, 0, 1.0)),  # greedy
    ("/next_token", (100.0, 10**9, 1.0)),  # hottest, top-k above the vocabulary
    ("/next_token", (1e-6, 1, 1e-9)),  # nearly greedy, tiny top-p
]
