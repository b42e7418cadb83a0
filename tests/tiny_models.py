"""Tiny models of each family, built in-process and saved like any local model.

They reuse the bundled tokenizers (offline), with random weights: enough to
test every code path (MLM head, causal decoder, encoder-decoder) in seconds.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import (
    AutoTokenizer,
    BartConfig,
    BartForConditionalGeneration,
    BertConfig,
    BertForMaskedLM,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
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
}


def build_all(root: Path) -> dict[str, str]:
    """Build every tiny model under `root`; returns name -> folder path."""
    folders = {}
    for name, build in BUILDERS.items():
        torch.manual_seed(0)
        folders[name] = str(build(root / name))
    return folders
