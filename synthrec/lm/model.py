"""Qwen3-architecture models: building them, counting parameters and FLOPs.

`model_stats` is pure arithmetic over the shape, so the sweep and the scaling
fit can use it without building a model; a test checks it against the built
model's parameter count and against PyTorch's FLOP counter.

FLOPs are matrix-multiply FLOPs (2 per multiply-add) of one training step
(forward + backward = 3 x forward), divided by the tokens of the step. They
include every projection, the attention scores and the weighted sum of values,
and the output layer; elementwise work (norms, softmax, SiLU, rotary, loss) is
left out, as in the usual 6N accounting, and is well under 1% here.
`flops_per_token` counts only the causal (unmasked) score entries;
`flops_per_token_dense` counts the full T x T score matrix, which is what a
non-flash kernel computes and what PyTorch's FLOP counter reports.
"""

import logging
from typing import Any

from synthrec.errors import SynthrecError
from synthrec.lm.config import ModelSizeConfig

log = logging.getLogger(__name__)

_TRAIN_FLOPS_PER_FORWARD = 3  # backward costs twice the forward
_ROPE_THETA = 10000.0
_INIT_STD = 0.02


def _layer_matmul_params(m: ModelSizeConfig) -> int:
    """Weights of one decoder layer that sit in matrix multiplies."""
    q = m.hidden_size * m.num_heads * m.head_dim
    kv = 2 * m.hidden_size * m.num_kv_heads * m.head_dim
    o = m.num_heads * m.head_dim * m.hidden_size
    mlp = 3 * m.hidden_size * m.intermediate_size  # gate, up, down
    return q + kv + o + mlp


def _layer_norm_params(m: ModelSizeConfig) -> int:
    # input and post-attention RMSNorm (hidden), q_norm and k_norm (head_dim)
    return 2 * m.hidden_size + 2 * m.head_dim


def model_stats(model: ModelSizeConfig, vocab_size: int, max_seq_len: int) -> dict:
    """Parameter counts and exact training FLOPs per token of a Qwen3 shape."""
    m = model
    embed = vocab_size * m.hidden_size
    lm_head = 0 if m.tie_word_embeddings else vocab_size * m.hidden_size
    per_layer = _layer_matmul_params(m) + _layer_norm_params(m)
    non_embedding = m.num_layers * per_layer + m.hidden_size  # + final norm

    # Forward FLOPs per token: 2 per weight in a matmul, output layer included.
    dense_fwd = 2 * (
        m.num_layers * _layer_matmul_params(m) + vocab_size * m.hidden_size
    )
    # Scores (q.k) and weighted values (p.v): 2 FLOPs x head_dim per key, both.
    attn_width = m.num_heads * m.head_dim
    attn_full = m.num_layers * 2 * 2 * attn_width * max_seq_len
    # Causal: token t sees t + 1 keys, (T + 1) / 2 on average over the sequence.
    attn_causal = m.num_layers * 2 * 2 * attn_width * (max_seq_len + 1) / 2
    return {
        "num_params": non_embedding + embed + lm_head,
        "num_params_non_embedding": non_embedding,
        "num_params_embedding": embed + lm_head,
        "flops_per_token": _TRAIN_FLOPS_PER_FORWARD * (dense_fwd + attn_causal),
        "flops_per_token_dense": _TRAIN_FLOPS_PER_FORWARD * (dense_fwd + attn_full),
        "vocab_size": vocab_size,
        "max_seq_len": max_seq_len,
    }


def model_shape(config: Any, name: str) -> ModelSizeConfig:
    """The `ModelSizeConfig` of a built or loaded Qwen3 model's config."""
    return ModelSizeConfig(
        name=name,
        hidden_size=config.hidden_size,
        num_layers=config.num_hidden_layers,
        num_heads=config.num_attention_heads,
        num_kv_heads=config.num_key_value_heads,
        head_dim=getattr(config, "head_dim", None)
        or config.hidden_size // config.num_attention_heads,
        intermediate_size=config.intermediate_size,
        tie_word_embeddings=bool(config.tie_word_embeddings),
    )


def qwen3_config(
    model: ModelSizeConfig, vocab_size: int, max_seq_len: int, eos_id: int, pad_id: int
) -> Any:
    from transformers import Qwen3Config

    m = model
    return Qwen3Config(
        vocab_size=vocab_size,
        hidden_size=m.hidden_size,
        intermediate_size=m.intermediate_size,
        num_hidden_layers=m.num_layers,
        num_attention_heads=m.num_heads,
        num_key_value_heads=m.num_kv_heads,
        head_dim=m.head_dim,
        max_position_embeddings=max_seq_len,
        tie_word_embeddings=m.tie_word_embeddings,
        initializer_range=_INIT_STD,
        rope_parameters={"rope_type": "default", "rope_theta": _ROPE_THETA},
        eos_token_id=eos_id,
        pad_token_id=pad_id,
        use_cache=False,
    )


def build_model(
    model: ModelSizeConfig, tokenizer: Any, max_seq_len: int, seed: int
) -> Any:
    """A randomly initialised model of this shape, or the checkpoint plus SID rows.

    Random init is seeded (same seed, same weights); every weight init happens in
    transformers' own `_init_weights` (normal, std 0.02; norms at 1).
    """
    import torch
    from transformers import Qwen3ForCausalLM

    if model.pretrained:
        return _load_pretrained(model.pretrained, tokenizer)
    cfg = qwen3_config(
        model,
        len(tokenizer),
        max_seq_len,
        tokenizer.eos_token_id,
        tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    net = Qwen3ForCausalLM(cfg)
    net.config.use_cache = False
    return net


def _load_pretrained(name: str, tokenizer: Any) -> Any:
    from transformers import AutoModelForCausalLM

    try:
        net = AutoModelForCausalLM.from_pretrained(name, dtype="float32")
    except (OSError, ValueError) as exc:
        raise SynthrecError(f"cannot load the checkpoint {name!r}: {exc}") from None
    add_sid_rows(net, len(tokenizer))
    net.config.use_cache = False
    return net


def add_sid_rows(net: Any, vocab_size: int) -> int:
    """Grow the embeddings to `vocab_size`; new rows = mean of the existing rows.

    The mean row gives each new SID token the average input embedding and an
    output logit equal to the average logit, so adding tokens leaves the
    model's loss on old text almost unchanged at step 0.
    """
    import torch

    old = net.get_input_embeddings().weight.shape[0]
    if vocab_size <= old:
        return 0
    net.resize_token_embeddings(vocab_size, mean_resizing=False)
    with torch.no_grad():
        for emb in _embedding_matrices(net):
            emb[old:] = emb[:old].mean(dim=0, keepdim=True)
    log.info(
        "added %d embedding rows (mean of the %d existing rows)", vocab_size - old, old
    )
    return vocab_size - old


def _embedding_matrices(net: Any) -> list[Any]:
    inp = net.get_input_embeddings().weight
    out = net.get_output_embeddings().weight
    return [inp] if out.data_ptr() == inp.data_ptr() else [inp, out]
