"""The CPT engine: tokenizer, parameter and FLOP counts, data mixing, schedules,
and local trials (curves, results, resume, cooldown branches, tracking)."""

import math

import numpy as np
import pandas as pd
import pytest

from synthrec.configtools import from_dict, to_dict
from synthrec.errors import ConfigError, SynthrecError
from synthrec.lm import (
    LMConfig,
    ModelSizeConfig,
    TrialConfig,
    build_tokenizer,
    count_tokens,
    load_tokenizer,
    model_stats,
)
from synthrec.lm.data import MixtureSampler, next_modality, pack_eval
from synthrec.lm.schedule import lr_at
from synthrec.lm.tokenizer import iter_texts
from synthrec.lm.toy_corpus import SID_TOKENS, write_corpus

MIXTURE = {"item_text": 0.2, "cf": 0.3, "uih": 0.5}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def tokenizer_dir(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("tok") / "tokenizer"
    build_tokenizer(corpus, SID_TOKENS, out)
    return out


def tiny_trial(corpus, tokenizer_dir, out_dir, **lm_overrides) -> TrialConfig:
    lm = {
        "max_seq_len": 32,
        "batch_size": 4,
        "warmup_tokens": 256,
        "first_eval_tokens": 512,
        "max_eval_tokens_per_set": 512,
        "learning_rate": 1e-2,
        "log_every_steps": 100,
        **lm_overrides,
    }
    num_tokens = lm.pop("num_tokens", 4096)
    return from_dict(
        TrialConfig,
        {
            "model": {
                "name": "t",
                "hidden_size": 16,
                "num_layers": 1,
                "num_heads": 2,
                "num_kv_heads": 1,
                "head_dim": 8,
                "intermediate_size": 32,
            },
            "lm": lm,
            "num_tokens": num_tokens,
            "mixture": MIXTURE,
            "seed": 3,
            "corpus_dir": str(corpus),
            "tokenizer_dir": str(tokenizer_dir),
            "out_dir": str(out_dir),
            "tracking": {"enabled": False},
        },
    )


# -- tokenizer ------------------------------------------------------------------


def test_word_tokenizer_token_counts_equal_count_tokens_on_every_shard(
    corpus, tokenizer_dir
):
    tok = load_tokenizer(tokenizer_dir)
    texts = list(iter_texts(sorted(corpus.glob("*/*/part-*.parquet"))))
    texts.append("Amélie (2001), déjà-vu!! naïve_x <RECTOKEN> REC3 </RECTOKEN>")
    lengths = [len(ids) for ids in tok(texts)["input_ids"]]
    assert lengths == count_tokens(texts).tolist()


def test_fast_word_level_encoding_gives_the_tokenizers_own_ids(corpus, tokenizer_dir):
    from synthrec.lm.data import _is_word_level, encode_docs

    tok = load_tokenizer(tokenizer_dir)
    texts = list(iter_texts(sorted(corpus.glob("*/*/part-*.parquet"))))
    texts.append("Amélie (2001), déjà-vu!! unseenword <RECTOKEN> REC3 </RECTOKEN>")
    assert _is_word_level(tok)
    fast = [d.tolist() for d in encode_docs(tok, texts)]
    assert fast == tok(texts)["input_ids"]  # the post-processor appends [EOS]


def test_every_sid_token_is_one_id_and_round_trips(tokenizer_dir):
    tok = load_tokenizer(tokenizer_dir)
    ids = tok.convert_tokens_to_ids(SID_TOKENS)
    assert len(set(ids)) == len(SID_TOKENS) and tok.unk_token_id not in ids
    text = "<RECTOKEN> REC5 REC40 </RECTOKEN>"
    encoded = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.convert_ids_to_tokens(encoded) == text.split()


def test_vocabulary_comes_from_training_shards_only(corpus, tmp_path):
    import shutil

    copy = tmp_path / "corpus"
    shutil.copytree(corpus, copy)
    eval_shard = copy / "eval" / "item_text" / "part-00000.parquet"
    frame = pd.read_parquet(eval_shard)
    frame.loc[0, "text"] = "zebracorn appears only in evaluation"
    frame.to_parquet(eval_shard, index=False)
    tok = build_tokenizer(copy, SID_TOKENS, tmp_path / "tok")
    assert tok.convert_tokens_to_ids("zebracorn") == tok.unk_token_id
    assert tok.convert_tokens_to_ids("titled") != tok.unk_token_id


def test_bpe_tokenizer_keeps_sid_tokens_whole(corpus, tmp_path):
    tok = build_tokenizer(
        corpus, SID_TOKENS, tmp_path / "bpe", kind="bpe", bpe_vocab_size=200
    )
    ids = tok("liked <RECTOKEN> REC5 REC40 </RECTOKEN>.", add_special_tokens=False)
    pieces = tok.convert_ids_to_tokens(ids["input_ids"])
    assert pieces[-5:-1] == ["<RECTOKEN>", "REC5", "REC40", "</RECTOKEN>"]


def test_missing_corpus_is_a_clear_error(tmp_path):
    with pytest.raises(SynthrecError, match="no training shards"):
        build_tokenizer(tmp_path, SID_TOKENS, tmp_path / "tok")


# -- parameters and FLOPs --------------------------------------------------------


@pytest.mark.parametrize("tied", [True, False])
def test_model_stats_parameter_counts_match_the_built_model(tied):
    from transformers import Qwen3ForCausalLM

    from synthrec.lm.model import qwen3_config

    m = ModelSizeConfig(
        hidden_size=24,
        num_layers=2,
        num_heads=4,
        num_kv_heads=2,
        head_dim=6,
        intermediate_size=40,
        tie_word_embeddings=tied,
    )
    net = Qwen3ForCausalLM(qwen3_config(m, 57, 16, 2, 0))
    stats = model_stats(m, 57, 16)
    assert stats["num_params"] == sum(p.numel() for p in net.parameters())
    embed = sum(
        p.numel()
        for n, p in net.named_parameters()
        if "embed_tokens" in n or "lm_head" in n
    )
    assert stats["num_params_non_embedding"] == stats["num_params"] - embed


def test_dense_flops_per_token_equal_pytorchs_flop_counter_for_a_training_step():
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import Qwen3ForCausalLM

    from synthrec.lm.model import qwen3_config

    m = ModelSizeConfig(
        hidden_size=48,
        num_layers=2,
        num_heads=4,
        num_kv_heads=2,
        head_dim=12,
        intermediate_size=80,
    )
    vocab, seq, batch = 101, 16, 3
    cfg = qwen3_config(m, vocab, seq, 2, 0)
    cfg._attn_implementation = "eager"  # explicit matmuls the counter can see
    net = Qwen3ForCausalLM(cfg)
    x = torch.randint(0, vocab, (batch, seq))
    with FlopCounterMode(display=False) as counter:
        net(input_ids=x, labels=x).loss.backward()
    stats = model_stats(m, vocab, seq)
    assert counter.get_total_flops() / (batch * seq) == stats["flops_per_token_dense"]
    # causal accounting drops exactly the masked half of the score matrix
    masked = 3 * 2 * 2 * 2 * 48 * (seq - (seq + 1) / 2)
    assert stats["flops_per_token_dense"] - stats["flops_per_token"] == masked


# -- data -------------------------------------------------------------------------


def test_deficit_rule_keeps_every_modality_within_one_sequence_of_its_share():
    rng = np.random.default_rng(0)
    for _ in range(20):
        weights = dict(zip("abcd", rng.random(4), strict=True))
        counts = dict.fromkeys(weights, 0)
        total = sum(weights.values())
        for n in range(1, 400):
            counts[next_modality(weights, counts)] += 1
            for m, w in weights.items():
                assert abs(counts[m] - w / total * n) <= 1.0


def test_sampler_counts_tokens_per_modality_exactly_and_resumes_identically(
    corpus, tokenizer_dir
):
    tok = load_tokenizer(tokenizer_dir)
    a = MixtureSampler(corpus, MIXTURE, tok, 32, seed=1)
    for _ in range(30):  # long enough to wrap every stream into a new epoch
        a.next_batch(8)
    state = a.state_dict()
    expected, names = a.next_batch(8)
    assert sum(a.tokens_by_modality().values()) == 31 * 8 * 32
    assert a.tokens_by_modality()["uih"] == a.counts["uih"] * 32
    b = MixtureSampler(corpus, MIXTURE, tok, 32, seed=1)
    b.load_state_dict(state)
    got, names_b = b.next_batch(8)
    assert np.array_equal(got, expected) and names == names_b


def test_mixture_naming_a_missing_modality_is_a_clear_error(corpus, tokenizer_dir):
    with pytest.raises(SynthrecError, match="general"):
        MixtureSampler(corpus, {"general": 1.0}, load_tokenizer(tokenizer_dir), 32, 0)


def test_eval_packing_pads_the_last_row_and_ignores_its_padding():
    docs = [np.array([5, 6, 2]), np.array([7, 2])]
    ids, labels = pack_eval(docs, max_seq_len=4, max_tokens=100, pad_id=0)
    assert ids.tolist() == [[5, 6, 2, 7], [2, 0, 0, 0]]
    assert labels.tolist() == [[5, 6, 2, 7], [2, -100, -100, -100]]


# -- schedules --------------------------------------------------------------------


def test_cosine_warms_up_linearly_then_ends_at_the_floor():
    lrs = [lr_at(s, 100, 10, 1.0, "cosine", 0.1, 0.2) for s in range(100)]
    assert lrs[:3] == pytest.approx([0.1, 0.2, 0.3])
    assert lrs[9] == 1.0 and lrs[10] == pytest.approx(1.0)
    assert all(x >= y for x, y in zip(lrs[10:], lrs[11:], strict=False))
    assert lr_at(100, 100, 10, 1.0, "cosine", 0.1, 0.2) == pytest.approx(0.1)


def test_wsd_is_flat_until_the_cooldown_then_decays_linearly_to_the_floor():
    lrs = [lr_at(s, 100, 10, 1.0, "wsd", 0.1, 0.2) for s in range(100)]
    assert set(lrs[10:80]) == {1.0}
    assert lrs[80] == 1.0 and lrs[99] == pytest.approx(0.1)
    steps = np.diff(lrs[80:])
    assert np.allclose(steps, steps[0])


# -- trials ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def local_result(corpus, tokenizer_dir, tmp_path_factory):
    from synthrec.lm import run_trial

    return run_trial(tiny_trial(corpus, tokenizer_dir, tmp_path_factory.mktemp("t")))


def test_local_trial_evaluates_every_set_at_doubling_token_counts(local_result):
    curve = pd.DataFrame(local_result.curve)
    assert sorted(curve.eval_set.unique()) == ["cf_seen_pair", "item_text", "uih_ood"]
    trunk = sorted(curve[curve.kind == "trunk"].tokens.unique())
    assert trunk == [512, 1024, 2048]
    assert set(curve[curve.kind == "final"].tokens) == {4096}
    assert local_result.final.keys() == {"cf_seen_pair", "item_text", "uih_ood"}
    first = curve[curve.tokens == 512].set_index("eval_set").loss
    assert all(local_result.final[s] < first[s] for s in first.index)


def test_local_trial_reports_exact_tokens_per_modality_and_stats(local_result):
    stats = local_result.stats
    assert stats["tokens"] == 4096
    by_mod = stats["tokens_by_modality"]
    assert sum(by_mod.values()) == 4096
    for m, share in MIXTURE.items():
        assert abs(by_mod[m] - share * 4096) <= 32  # within one sequence
    assert stats["tokens_per_s"] > 0 and stats["flops_per_token"] > 0


def test_saved_model_loads_in_plain_transformers_and_reproduces_the_final_loss(
    local_result,
):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from synthrec.lm.data import encode_docs, pack_eval

    model = AutoModelForCausalLM.from_pretrained(local_result.model_dir)
    tok = AutoTokenizer.from_pretrained(local_result.model_dir)
    corpus = _result_config(local_result)["corpus_dir"]
    texts = list(iter_texts([f"{corpus}/eval/uih_ood/part-00000.parquet"]))
    ids, labels = pack_eval(encode_docs(tok, texts), 32, 512, tok.pad_token_id)
    with torch.no_grad():
        logits = model(input_ids=torch.from_numpy(ids)).logits
    loss = torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]),
        torch.from_numpy(labels[:, 1:]).reshape(-1),
        ignore_index=-100,
    )
    assert float(loss) == pytest.approx(local_result.final["uih_ood"], rel=1e-5)


def _result_config(result) -> dict:
    from synthrec.io import read_json

    return read_json(f"{result.out_dir}/result.json")["config"]


def test_same_config_gives_the_same_losses_and_a_rerun_reuses_the_result(
    local_result, corpus, tokenizer_dir, tmp_path
):
    from synthrec.lm import run_trial

    config = from_dict(TrialConfig, _result_config(local_result))
    again = run_trial(tiny_trial(corpus, tokenizer_dir, tmp_path))
    assert again.final == local_result.final
    reused = run_trial(config)
    assert reused.curve == local_result.curve


def test_a_stopped_local_run_resumes_from_its_checkpoint_to_the_same_losses(
    corpus, tokenizer_dir, tmp_path, local_result
):
    import torch

    from synthrec.io import read_json
    from synthrec.lm.train import CptLoop, WorkerEnv

    trial = tiny_trial(corpus, tokenizer_dir, tmp_path, checkpoint_every_tokens=1024)
    env = WorkerEnv(0, 1, torch.device("cpu"), False)
    assert CptLoop(trial, env).run(stop_after_steps=13) is False
    assert (tmp_path / "checkpoint" / "loop_state.json").is_file()
    assert CptLoop(trial, env).run() is True
    resumed = read_json(tmp_path / "result.json")
    assert resumed["final"] == pytest.approx(local_result.final, rel=1e-6)


def test_wsd_cooldown_branches_add_annealed_points_without_changing_the_trunk(
    corpus, tokenizer_dir, tmp_path
):
    from synthrec.lm import run_trial

    plain = run_trial(tiny_trial(corpus, tokenizer_dir, tmp_path / "a", schedule="wsd"))
    branched = run_trial(
        tiny_trial(
            corpus,
            tokenizer_dir,
            tmp_path / "b",
            schedule="wsd",
            cooldown_at_tokens=[1024, 2048],
        )
    )
    curve = pd.DataFrame(branched.curve)
    cool = curve[curve.kind == "cooldown"]
    # 128 tokens/step; a branch from step 8 anneals over round(0.2 * 8) = 2
    # steps (D = 1024 + 256), one from step 16 over 3 steps (D = 2048 + 384)
    assert sorted(cool.tokens.unique()) == [1280, 2432]
    assert branched.final == pytest.approx(plain.final, rel=1e-6)
    trunk = curve[curve.kind == "trunk"].set_index(["tokens", "eval_set"]).loss
    at_1024 = cool[cool.tokens == 1280].set_index("eval_set").loss
    assert all(at_1024[s] < trunk[(1024, s)] for s in at_1024.index)


def test_trial_logs_params_and_per_set_losses_to_a_child_mlflow_run(
    corpus, tokenizer_dir, tmp_path
):
    from mlflow.tracking import MlflowClient

    from synthrec.lm import run_trial
    from synthrec.tracking import Tracker, TrackingConfig

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    parent = Tracker(uri, "lmtest").start_run("sweep")
    trial = tiny_trial(
        corpus,
        tokenizer_dir,
        tmp_path / "trial",
        num_tokens=1024,
        first_eval_tokens=256,
    )
    trial.tracking = TrackingConfig(tracking_uri=uri, experiment_name="lmtest")
    trial.parent_run_id = parent.run_id
    result = run_trial(trial)

    client = MlflowClient(uri)
    run = client.get_run(result.mlflow_run_id)
    assert run.data.tags["mlflow.parentRunId"] == parent.run_id
    assert int(run.data.params["N"]) == result.stats["num_params_non_embedding"]
    assert {"N_total", "flops_per_token", "tokens", "mixture", "seed"} <= set(
        run.data.params
    )
    history = client.get_metric_history(run.info.run_id, "eval/uih_ood/loss")
    assert [m.step for m in history] == [256, 512, 1024]
    assert history[-1].value == pytest.approx(result.final["uih_ood"])


def test_bad_trial_configs_are_rejected_with_the_field_named(
    corpus, tokenizer_dir, tmp_path
):
    base = to_dict(tiny_trial(corpus, tokenizer_dir, tmp_path))
    with pytest.raises(ConfigError, match="lm.max_seq_lenn"):
        from_dict(TrialConfig, {**base, "lm": {**base["lm"], "max_seq_lenn": 3}})
    with pytest.raises(ConfigError, match="num_tokens"):
        from_dict(TrialConfig, {**base, "num_tokens": 10})
    with pytest.raises(ConfigError, match="cooldown_at_tokens"):
        from_dict(
            TrialConfig, {**base, "lm": {**base["lm"], "cooldown_at_tokens": [512]}}
        )
    assert math.isfinite(model_stats(ModelSizeConfig(), 10, 8)["flops_per_token"])
    assert (
        LMConfig(batch_size=8, micro_batch_size=2, num_workers=2).grad_accum_steps(2)
        == 2
    )


# -- a pretrained checkpoint ------------------------------------------------------


@pytest.fixture(scope="module")
def base_checkpoint(tmp_path_factory):
    """A small 'released' model whose tokenizer has never seen SID tokens."""
    from transformers import Qwen3ForCausalLM

    from synthrec.lm.model import qwen3_config
    from synthrec.lm.toy_corpus import _write

    root = tmp_path_factory.mktemp("base")
    _write(
        root / "text" / "train" / "general" / "part-00000.parquet",
        ["a film about love", "the city is a comedy", "friends in space"] * 5,
    )
    tok = build_tokenizer(root / "text", [], root / "model")
    m = ModelSizeConfig(
        hidden_size=16,
        num_layers=1,
        num_heads=2,
        num_kv_heads=1,
        head_dim=8,
        intermediate_size=32,
        tie_word_embeddings=False,
    )
    net = Qwen3ForCausalLM(
        qwen3_config(m, len(tok), 32, tok.eos_token_id, tok.pad_token_id)
    )
    net.save_pretrained(root / "model")
    return root / "model"


def test_pretrained_tokenizer_gains_sid_tokens_and_new_rows_are_the_mean(
    base_checkpoint, tmp_path
):
    import torch
    from transformers import AutoModelForCausalLM

    from synthrec.lm.model import build_model

    base_tok = load_tokenizer(base_checkpoint)
    tok = build_tokenizer(
        None, SID_TOKENS, tmp_path / "tok", pretrained=str(base_checkpoint)
    )
    assert len(tok) == len(base_tok) + len(SID_TOKENS)
    ids = tok("liked <RECTOKEN> REC5 REC40 </RECTOKEN>", add_special_tokens=False)
    assert tok.convert_ids_to_tokens(ids["input_ids"])[-4:] == [
        "<RECTOKEN>",
        "REC5",
        "REC40",
        "</RECTOKEN>",
    ]

    old = AutoModelForCausalLM.from_pretrained(base_checkpoint)
    grown = build_model(ModelSizeConfig(pretrained=str(base_checkpoint)), tok, 32, 0)
    n_old = len(base_tok)
    for get in ("get_input_embeddings", "get_output_embeddings"):
        before, after = getattr(old, get)().weight, getattr(grown, get)().weight
        assert after.shape[0] == len(tok)
        assert torch.equal(after[:n_old], before)
        mean = before.mean(dim=0)
        assert torch.allclose(after[n_old:], mean.expand_as(after[n_old:]))


def test_a_trial_continues_pretraining_a_checkpoint_on_the_corpus(
    base_checkpoint, corpus, tmp_path
):
    from synthrec.lm import run_trial

    build_tokenizer(None, SID_TOKENS, tmp_path / "tok", pretrained=str(base_checkpoint))
    trial = tiny_trial(corpus, tmp_path / "tok", tmp_path / "out", num_tokens=1024)
    trial.model = ModelSizeConfig(name="base", pretrained=str(base_checkpoint))
    result = run_trial(trial)
    shape = ModelSizeConfig(
        hidden_size=16,
        num_layers=1,
        num_heads=2,
        num_kv_heads=1,
        head_dim=8,
        intermediate_size=32,
        tie_word_embeddings=False,
    )
    expected = model_stats(shape, result.stats["vocab_size"], 32)
    for key in ("num_params", "num_params_non_embedding", "flops_per_token"):
        assert result.stats[key] == expected[key]
    assert set(result.final) == {"cf_seen_pair", "item_text", "uih_ood"}


def test_cli_trains_one_trial_from_yaml_and_reports_final_losses(
    corpus, tokenizer_dir, tmp_path, capsys
):
    import json

    import yaml

    from synthrec.cli import main

    trial = tiny_trial(corpus, tokenizer_dir, tmp_path / "x", num_tokens=512)
    (tmp_path / "trial.yaml").write_text(yaml.safe_dump(to_dict(trial)))
    assert main(["lm", "train", str(tmp_path / "trial.yaml"),
                 "--out", str(tmp_path / "cli")]) == 0  # fmt: skip
    out = capsys.readouterr().out
    printed = json.loads(out[out.index("{\n") :])  # after any library chatter
    assert set(printed["final"]) == {"cf_seen_pair", "item_text", "uih_ood"}
    assert (tmp_path / "cli" / "model" / "config.json").is_file()


def test_cli_reports_a_missing_corpus_in_one_line(tmp_path, capsys):
    from synthrec.cli import main

    (tmp_path / "sids").mkdir()
    code = main(["lm", "tokenizer", "--corpus", str(tmp_path), "--sids",
                 str(tmp_path / "sids"), "--out", str(tmp_path / "tok")])  # fmt: skip
    assert code == 2
    assert "synthrec: error:" in capsys.readouterr().err
