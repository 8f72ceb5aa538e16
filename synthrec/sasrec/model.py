"""SASRec (Kang & McAuley, 2018): a causal self-attention next-item model.

Shapes: B batch, T positions (left-padded, the most recent item last), D hidden
width, V = n_items + 1 item columns (column 0 is padding).

Positions are learned and right-aligned: the most recent item always gets
position `max_seq_len - 1`, as in the original SASRec, so a batch can be padded
to its own longest sequence instead of to `max_seq_len`.

The item embedding is shared between input and output: a position's score for
item i is the dot product of its hidden state with item i's embedding.
"""

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from synthrec.sasrec.metrics import PADDING_ITEM

# Rows of the full-softmax logit matrix computed at once (bounds memory).
_FULL_CE_CHUNK_ROWS = 2048


@dataclass
class ModelShape:
    num_items: int
    hidden_size: int = 64
    num_blocks: int = 2
    num_heads: int = 1
    dropout: float = 0.2
    attention_dropout: float = 0.0
    max_seq_len: int = 200
    norm: Literal["pre", "post"] = "pre"


# -- masks ----------------------------------------------------------------------


def attention_mask(valid: torch.Tensor) -> torch.Tensor:
    """(B, 1, T, T) bool, True where query t may attend to key s.

    Allowed: s <= t (causal) and s is a real item (not padding). A padding
    query attends only to itself so its softmax is defined; its output is
    zeroed and never scored.
    """
    _, length = valid.shape
    causal = torch.ones(length, length, dtype=torch.bool, device=valid.device).tril()
    allowed = causal[None] & valid[:, None, :]  # (B, T, T)
    eye = torch.eye(length, dtype=torch.bool, device=valid.device)[None]
    allowed = allowed | (eye & ~valid[:, :, None])
    return allowed[:, None]


# -- building blocks ----------------------------------------------------------------


class SelfAttention(nn.Module):
    def __init__(self, hidden_size: int, num_heads: int, dropout: float):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(hidden_size, 3 * hidden_size)
        self.out = nn.Linear(hidden_size, hidden_size)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch, length, width = x.shape
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        # (B, T, D) -> (B, H, T, D / H)
        q, k, v = (
            t.view(batch, length, self.num_heads, -1).transpose(1, 2) for t in (q, k, v)
        )
        drop = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=drop)
        return self.out(y.transpose(1, 2).reshape(batch, length, width))


class FeedForward(nn.Module):
    def __init__(self, hidden_size: int, dropout: float):
        super().__init__()
        self.fc1 = nn.Linear(hidden_size, hidden_size)
        self.fc2 = nn.Linear(hidden_size, hidden_size)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.dropout(F.relu(self.fc1(x))))


class Block(nn.Module):
    """Attention then feed-forward, each with a residual; LayerNorm before
    each sub-layer ("pre") or after each residual sum ("post")."""

    def __init__(self, shape: ModelShape):
        super().__init__()
        self.pre_norm = shape.norm == "pre"
        self.attn = SelfAttention(
            shape.hidden_size, shape.num_heads, shape.attention_dropout
        )
        self.ffn = FeedForward(shape.hidden_size, shape.dropout)
        self.norm1 = nn.LayerNorm(shape.hidden_size)
        self.norm2 = nn.LayerNorm(shape.hidden_size)
        self.dropout = nn.Dropout(shape.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.pre_norm:
            x = x + self.dropout(self.attn(self.norm1(x), mask))
            return x + self.dropout(self.ffn(self.norm2(x)))
        x = self.norm1(x + self.dropout(self.attn(x, mask)))
        return self.norm2(x + self.dropout(self.ffn(x)))


# -- the model ----------------------------------------------------------------------


class SASRec(nn.Module):
    def __init__(self, shape: ModelShape):
        super().__init__()
        self.shape = shape
        width = shape.hidden_size
        self.item_emb = nn.Embedding(
            shape.num_items + 1, width, padding_idx=PADDING_ITEM
        )
        self.pos_emb = nn.Embedding(shape.max_seq_len, width)
        self.emb_dropout = nn.Dropout(shape.dropout)
        self.blocks = nn.ModuleList(Block(shape) for _ in range(shape.num_blocks))
        self.final_norm = nn.LayerNorm(width) if shape.norm == "pre" else nn.Identity()
        self._init_weights()

    def _init_weights(self) -> None:
        # All weight init lives here. Embeddings ~ N(0, 1/D): scaled by sqrt(D)
        # on input they give unit-size features, and dot products with a
        # normalised hidden state give logits of order one.
        std = self.shape.hidden_size**-0.5
        for module in self.modules():
            if isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, std=std)
            elif isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        with torch.no_grad():
            self.item_emb.weight[PADDING_ITEM].zero_()

    def forward(self, items: torch.Tensor) -> torch.Tensor:
        """items (B, T) left-padded with 0 -> hidden states (B, T, D)."""
        _, length = items.shape
        if length > self.shape.max_seq_len:
            raise ValueError(
                f"sequence of {length} > max_seq_len {self.shape.max_seq_len}"
            )
        valid = items != PADDING_ITEM  # (B, T)

        # Right-aligned learned positions: the last slot is max_seq_len - 1.
        first = self.shape.max_seq_len - length
        positions = torch.arange(first, self.shape.max_seq_len, device=items.device)
        x = self.item_emb(items) * math.sqrt(self.shape.hidden_size)
        x = self.emb_dropout(x + self.pos_emb(positions)[None])
        x = x * valid[..., None]

        mask = attention_mask(valid)
        for block in self.blocks:
            # Padding positions stay zero between blocks, as in the original.
            x = block(x, mask) * valid[..., None]
        return self.final_norm(x) * valid[..., None]

    def last_hidden(self, items: torch.Tensor) -> torch.Tensor:
        """(B, T) left-padded histories -> (B, D) state after the last item."""
        return self(items)[:, -1]

    def score_all(self, hidden: torch.Tensor) -> torch.Tensor:
        """(B, D) -> (B, V) scores for every item column (column 0 = padding)."""
        return hidden @ self.item_emb.weight.T

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


# -- losses -------------------------------------------------------------------------


def bce_loss(
    hidden: torch.Tensor,
    targets: torch.Tensor,
    item_weight: torch.Tensor,
    generator: torch.Generator,
) -> torch.Tensor:
    """Original SASRec loss: the target against one uniform negative per position.

    hidden (B, T, D), targets (B, T) with 0 = no target. A negative that
    happens to equal the target is left out of the loss.
    """
    valid = targets != PADDING_ITEM
    num_items = item_weight.shape[0] - 1
    # Drawn on the generator's device (CPU), so runs match across devices.
    negatives = torch.randint(1, num_items + 1, targets.shape, generator=generator)
    negatives = negatives.to(targets.device)
    pos = (hidden * item_weight[targets]).sum(-1)  # (B, T)
    neg = (hidden * item_weight[negatives]).sum(-1)  # (B, T)
    pos_loss = F.binary_cross_entropy_with_logits(
        pos[valid], torch.ones_like(pos[valid])
    )
    neg_keep = valid & (negatives != targets)
    neg_loss = F.binary_cross_entropy_with_logits(
        neg[neg_keep], torch.zeros_like(neg[neg_keep])
    )
    return pos_loss + neg_loss


def sampled_softmax_loss(
    hidden: torch.Tensor,
    targets: torch.Tensor,
    item_weight: torch.Tensor,
    generator: torch.Generator,
    num_negatives: int,
    temperature: float,
) -> torch.Tensor:
    """Softmax over the target and `num_negatives` uniform items shared by the
    batch, logits divided by `temperature`; collisions with the target masked."""
    valid = targets != PADDING_ITEM
    num_items = item_weight.shape[0] - 1
    negatives = torch.randint(1, num_items + 1, (num_negatives,), generator=generator)
    negatives = negatives.to(targets.device)
    h, t = hidden[valid], targets[valid]  # (M, D), (M,)
    if temperature != 1.0:
        h = h / temperature  # scales every logit below
    pos = (h * item_weight[t]).sum(-1)  # (M,)
    neg = h @ item_weight[negatives].T  # (M, N)
    neg = neg.masked_fill(negatives[None, :] == t[:, None], float("-inf"))
    # -log softmax of the target over [target, negatives], without concatenating.
    return (torch.logaddexp(pos, torch.logsumexp(neg, dim=1)) - pos).mean()


def full_ce_loss(
    hidden: torch.Tensor, targets: torch.Tensor, item_weight: torch.Tensor
) -> torch.Tensor:
    """Cross-entropy over the whole catalogue (padding column excluded).

    Logits are built in row chunks and recomputed in the backward pass, so
    memory is one chunk of (rows, V) rather than (B * T, V).
    """
    from torch.utils.checkpoint import checkpoint

    valid = targets != PADDING_ITEM
    h, t = hidden[valid], targets[valid]  # (M, D), (M,)
    total = hidden.new_zeros(())
    for start in range(0, len(t), _FULL_CE_CHUNK_ROWS):
        stop = start + _FULL_CE_CHUNK_ROWS
        total = total + checkpoint(
            _ce_sum, h[start:stop], t[start:stop], item_weight, use_reentrant=False
        )
    return total / max(len(t), 1)


def _ce_sum(
    h: torch.Tensor, t: torch.Tensor, item_weight: torch.Tensor
) -> torch.Tensor:
    logits = h @ item_weight.T  # (rows, V)
    is_padding = torch.zeros(logits.shape[1], dtype=torch.bool, device=logits.device)
    is_padding[PADDING_ITEM] = True
    logits = logits.masked_fill(is_padding, float("-inf"))
    return F.cross_entropy(logits, t, reduction="sum")
