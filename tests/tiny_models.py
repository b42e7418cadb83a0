"""Tiny models of each family, built in-process and saved like any local model.

They reuse the bundled tokenizers (offline), with random weights: enough to
test every code path (MLM head, causal decoder, encoder-decoder) in seconds.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import torch
from transformers import (
    AutoTokenizer,
    BartConfig,
    BartForConditionalGeneration,
    BertConfig,
    BertForMaskedLM,
    DistilBertConfig,
    DistilBertForMaskedLM,
    Gemma3ForCausalLM,
    Gemma3TextConfig,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    PhiConfig,
    PhiForCausalLM,
    Qwen3Config,
    Qwen3ForCausalLM,
    T5Config,
    T5ForConditionalGeneration,
)

from models.loading import bundled
from models.loading.catalog import MINILM, SMOLLM2

SMALL = dict(n_layers=2, n_heads=4, width=32)


def _wordpiece():
    return AutoTokenizer.from_pretrained(bundled.prepared_path(MINILM))


def _byte_bpe():
    return AutoTokenizer.from_pretrained(bundled.prepared_path(SMOLLM2))


def tiny_bert(folder: Path) -> Path:
    tokenizer = _wordpiece()
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=512,
        architectures=["BertForMaskedLM"],
    )
    return _save(BertForMaskedLM(config), tokenizer, folder)


def tiny_gpt2(folder: Path) -> Path:
    tokenizer = _byte_bpe()
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_embd=32,
        n_layer=2,
        n_head=4,
        n_positions=512,
        architectures=["GPT2LMHeadModel"],
    )
    return _save(GPT2LMHeadModel(config), tokenizer, folder)


def tiny_llama_gqa(folder: Path) -> Path:
    """Rotary positions and grouped-query attention (4 query heads share 2 k/v heads)."""
    tokenizer = _byte_bpe()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        architectures=["LlamaForCausalLM"],
    )
    return _save(LlamaForCausalLM(config), tokenizer, folder)


def tiny_bart(folder: Path) -> Path:
    tokenizer = _byte_bpe()
    eos = tokenizer.eos_token_id
    config = BartConfig(
        vocab_size=len(tokenizer),
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=512,
        pad_token_id=eos,
        bos_token_id=eos,
        eos_token_id=eos,
        decoder_start_token_id=eos,
        forced_eos_token_id=None,
        architectures=["BartForConditionalGeneration"],
    )
    return _save(BartForConditionalGeneration(config), tokenizer, folder)


def tiny_t5(folder: Path) -> Path:
    """Encoder-decoder with RMS norms before each sub-layer and relative position buckets."""
    tokenizer = _byte_bpe()
    eos = tokenizer.eos_token_id
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=32,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=4,
        pad_token_id=eos,
        eos_token_id=eos,
        decoder_start_token_id=eos,
        architectures=["T5ForConditionalGeneration"],
    )
    return _save(T5ForConditionalGeneration(config), tokenizer, folder)


def tiny_gemma3(folder: Path) -> Path:
    """Gemma 3 text: four norms per block (sandwich), q/k norms, a sliding-window layer,
    a head width (16) that is not d_model / heads, one key/value head."""
    tokenizer = _byte_bpe()
    config = Gemma3TextConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=1,
        head_dim=16,
        query_pre_attn_scalar=16,
        sliding_window=4,
        layer_types=["sliding_attention", "full_attention"],
        max_position_embeddings=512,
        pad_token_id=tokenizer.eos_token_id,
        architectures=["Gemma3ForCausalLM"],
    )
    return _save(Gemma3ForCausalLM(config), tokenizer, folder)


def tiny_qwen3(folder: Path) -> Path:
    """Qwen 3: Llama-style pre-norm block with q/k norms and grouped-query attention."""
    tokenizer = _byte_bpe()
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=8,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        architectures=["Qwen3ForCausalLM"],
    )
    return _save(Qwen3ForCausalLM(config), tokenizer, folder)


def tiny_distilbert(folder: Path) -> Path:
    """Post-norm encoder with DistilBERT's own names (q_lin ..., sa_layer_norm, ffn.lin1)."""
    tokenizer = _wordpiece()
    config = DistilBertConfig(
        vocab_size=len(tokenizer),
        dim=32,
        n_layers=2,
        n_heads=4,
        hidden_dim=64,
        max_position_embeddings=512,
        architectures=["DistilBertForMaskedLM"],
    )
    return _save(DistilBertForMaskedLM(config), tokenizer, folder)


def tiny_phi(folder: Path) -> Path:
    """Phi: attention and MLP side by side on one norm (a parallel block), a layout the
    Block view does not know: it must say so instead of showing numbers."""
    tokenizer = _byte_bpe()
    config = PhiConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=512,
        architectures=["PhiForCausalLM"],
    )
    return _save(PhiForCausalLM(config), tokenizer, folder)


def _save(model: torch.nn.Module, tokenizer, folder: Path) -> Path:
    model.eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


BUILDERS = {
    "tiny-bert": tiny_bert,
    "tiny-gpt2": tiny_gpt2,
    "tiny-llama-gqa": tiny_llama_gqa,
    "tiny-bart": tiny_bart,
    "tiny-t5": tiny_t5,
    "tiny-gemma3": tiny_gemma3,
    "tiny-qwen3": tiny_qwen3,
    "tiny-distilbert": tiny_distilbert,
    "tiny-phi": tiny_phi,
}


def build_all(root: Path) -> dict[str, str]:
    """Build every tiny model under `root`; returns name -> folder path."""
    folders = {}
    for name, build in BUILDERS.items():
        torch.manual_seed(0)
        folders[name] = str(build(root / name))
    return folders


def build_missing(root: Path) -> None:
    """Build the tiny models that `root` does not hold yet (each into a scratch folder
    first, then renamed, so a test reading the folder never sees half a model)."""
    for name, build in BUILDERS.items():
        if (root / name / "config.json").exists():
            continue
        torch.manual_seed(0)
        scratch = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
        build(scratch)
        try:
            scratch.rename(root / name)
        except OSError:  # another process built it meanwhile
            shutil.rmtree(scratch, ignore_errors=True)
