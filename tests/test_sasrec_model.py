"""SASRec masks, positions, shared embeddings and the three losses."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from synthrec.sasrec.config import SasrecConfig
from synthrec.sasrec.data import BatchStream, make_pool
from synthrec.sasrec.model import (
    ModelShape,
    SASRec,
    attention_mask,
    bce_loss,
    full_ce_loss,
    sampled_softmax_loss,
)
from synthrec.sasrec.train import compute_loss


@pytest.fixture(autouse=True)
def one_torch_thread():
    # Many processes share this machine's 2 cores; spinning OpenMP threads
    # make small ops 50x slower when oversubscribed.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _model(norm: str = "pre", num_items: int = 30, max_seq_len: int = 8) -> SASRec:
    torch.manual_seed(0)
    shape = ModelShape(
        num_items=num_items,
        hidden_size=16,
        num_blocks=2,
        num_heads=2,
        dropout=0.1,
        max_seq_len=max_seq_len,
        norm=norm,
    )
    return SASRec(shape).eval()


def test_attention_mask_is_causal_and_skips_padding_keys():
    valid = torch.tensor([[False, True, True]])
    mask = attention_mask(valid)[0, 0]
    assert mask.tolist() == [
        [True, False, False],  # a padding query sees only itself
        [False, True, False],
        [False, True, True],
    ]


@pytest.mark.parametrize("norm", ["pre", "post"])
def test_outputs_never_depend_on_future_items(norm):
    model = _model(norm)
    items = torch.tensor([[0, 0, 3, 7, 9, 2, 5, 11]])
    changed = items.clone()
    changed[0, 5:] = torch.tensor([20, 21, 22])
    with torch.no_grad():
        before, after = model(items), model(changed)
    assert torch.allclose(before[0, :5], after[0, :5], atol=1e-6)
    assert not torch.allclose(before[0, 5:], after[0, 5:])


@pytest.mark.parametrize("norm", ["pre", "post"])
def test_left_padding_changes_nothing_at_real_positions(norm):
    model = _model(norm)
    short = torch.tensor([[4, 8, 15]])
    padded = torch.tensor([[0, 0, 0, 4, 8, 15], [1, 2, 3, 4, 5, 6]])
    with torch.no_grad():
        alone, in_batch = model(short), model(padded)
    assert torch.allclose(alone[0], in_batch[0, 3:], atol=1e-6)
    assert torch.count_nonzero(in_batch[0, :3]) == 0


def test_item_embedding_is_shared_between_input_and_output():
    model = _model()
    hidden = torch.randn(2, 16)
    assert torch.equal(model.score_all(hidden), hidden @ model.item_emb.weight.T)
    extra = sum(p.numel() for n, p in model.named_parameters() if "item_emb" not in n)
    assert model.num_parameters() == 31 * 16 + extra
    assert not any(
        p.shape[0] == 31 for n, p in model.named_parameters() if "item_emb" not in n
    )


def test_sequences_longer_than_max_seq_len_are_refused():
    with pytest.raises(ValueError, match="max_seq_len"):
        _model(max_seq_len=4)(torch.ones(1, 5, dtype=torch.long))


def _loss_inputs():
    torch.manual_seed(1)
    hidden = torch.randn(2, 3, 4)
    targets = torch.tensor([[0, 2, 5], [1, 3, 0]])
    weight = torch.randn(6, 4)
    return hidden, targets, weight


def test_full_cross_entropy_matches_a_dense_reference():
    hidden, targets, weight = _loss_inputs()
    valid = targets != 0
    logits = hidden[valid] @ weight.T
    logits[:, 0] = float("-inf")
    expected = F.cross_entropy(logits, targets[valid])
    assert full_ce_loss(hidden, targets, weight) == pytest.approx(float(expected))


def test_sampled_softmax_with_temperature_matches_a_hand_computation():
    hidden, targets, weight = _loss_inputs()
    got = sampled_softmax_loss(
        hidden,
        targets,
        weight,
        torch.Generator().manual_seed(4),
        num_negatives=3,
        temperature=0.5,
    )
    negatives = torch.randint(1, 6, (3,), generator=torch.Generator().manual_seed(4))
    losses = []
    for b, t in zip(*torch.nonzero(targets, as_tuple=True), strict=True):
        h, target = hidden[b, t], int(targets[b, t])
        logits = [h @ weight[target]] + [
            h @ weight[n] for n in negatives.tolist() if n != target
        ]
        losses.append(-F.log_softmax(torch.stack(logits) / 0.5, dim=0)[0])
    assert float(got) == pytest.approx(float(torch.stack(losses).mean()), rel=1e-5)


def test_bce_scores_each_target_against_one_negative():
    hidden, targets, weight = _loss_inputs()
    got = bce_loss(hidden, targets, weight, torch.Generator().manual_seed(2))
    negatives = torch.randint(
        1, 6, targets.shape, generator=torch.Generator().manual_seed(2)
    )
    valid = targets != 0
    pos = (hidden * weight[targets]).sum(-1)[valid]
    keep = valid & (negatives != targets)
    neg = (hidden * weight[negatives]).sum(-1)[keep]
    expected = -F.logsigmoid(pos).mean() - F.logsigmoid(-neg).mean()
    assert float(got) == pytest.approx(float(expected), rel=1e-5)


@pytest.mark.parametrize(
    ("loss", "norm"), [("bce", "pre"), ("sampled_softmax", "post"), ("full_ce", "pre")]
)
def test_every_loss_learns_a_deterministic_item_cycle(loss, norm):
    # Users walk the cycle 1 -> 2 -> ... -> 12 -> 1 from different starts.
    cycle = np.arange(1, 13)
    sequences = [np.roll(cycle, -start)[:9] for start in range(12)]
    cfg = SasrecConfig(
        hidden_size=16,
        num_heads=1,
        dropout=0.0,
        max_seq_len=8,
        loss=loss,
        num_negatives=6,
        learning_rate=1e-2,
        norm=norm,
    )
    torch.manual_seed(0)
    model = SASRec(
        ModelShape(
            num_items=12,
            hidden_size=16,
            num_blocks=1,
            dropout=0.0,
            max_seq_len=8,
            norm=norm,
        )
    )
    stream = BatchStream(
        [make_pool(sequences, 8, "cycle")], [1.0], 12, np.random.default_rng(0)
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    generator = torch.Generator().manual_seed(0)
    for _ in range(150):
        inputs, targets = stream.next_batch()
        optimizer.zero_grad()
        compute_loss(model, inputs, targets, cfg, generator).backward()
        optimizer.step()

    model.eval()
    with torch.no_grad():
        scores = model.score_all(model.last_hidden(torch.tensor([[3, 4, 5, 6]])))
    assert int(scores[0, 1:].argmax()) + 1 == 7
