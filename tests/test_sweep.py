"""The sweep's pure parts: grid, trial ids, validation, concurrency, records, specs."""

import dataclasses
from pathlib import Path

import pytest

from synthrec.cli import main
from synthrec.config import RunConfig, load_config
from synthrec.configtools import from_dict
from synthrec.errors import ConfigError, SynthrecError
from synthrec.lm.config import ModelSizeConfig
from synthrec.lm.model import model_stats
from synthrec.sweep import derive_concurrency, plan_grid, plan_trials, trial_id
from synthrec.sweep.plan import estimate_cost, shape_non_embedding_params
from synthrec.sweep.records import (
    CURVE_COLUMNS,
    curves_frame,
    finished_records,
    write_record,
)
from synthrec.sweep.runner import trial_tracking_uri
from synthrec.sweep.tinycorpus import TINY_MODEL_SIZES

REPO = Path(__file__).resolve().parents[1]
SHIPPED_SPECS = ["paper-qwen3", "mixture-ablation", "data-ladder"]

TWO_SIZES = TINY_MODEL_SIZES


def _cfg(**sweep) -> RunConfig:
    data = {
        "lm": {"max_seq_len": 16, "batch_size": 4},
        "sweep": {"model_sizes": TWO_SIZES, "token_budgets": [256, 512], **sweep},
    }
    return from_dict(RunConfig, data)


def _plan(cfg: RunConfig, root: str = "/tmp/x"):
    return plan_grid(cfg, f"{root}/corpus", f"{root}/tok", f"{root}/run")


# -- grid and ids ---------------------------------------------------------------


def test_grid_has_one_trial_per_model_budget_mixture_and_seed():
    cfg = _cfg(
        mixtures={"m1": {"uih": 1.0}, "m2": {"cf": 0.5, "uih": 0.5}}, seeds=[0, 1, 2]
    )
    planned = _plan(cfg)
    assert len(planned) == 2 * 2 * 2 * 3
    keys = {(p.model, p.num_tokens, p.mixture, p.seed) for p in planned}
    assert len(keys) == len(planned)
    assert planned[0].config.model.name == "a" and planned[-1].config.model.name == "b"
    assert len(plan_trials(cfg, "c", "t", "r")) == len(planned)


def test_trial_ids_do_not_depend_on_where_a_trial_reads_writes_or_logs():
    cfg = _cfg()
    here = [p.trial_id for p in _plan(cfg, "/tmp/one")]
    there = [p.trial_id for p in _plan(cfg, "/data/two")]
    assert here == there
    other_tracking = dataclasses.replace(
        cfg, tracking=dataclasses.replace(cfg.tracking, experiment_name="elsewhere")
    )
    assert [p.trial_id for p in _plan(other_tracking)] == here


def test_trial_ids_change_when_anything_that_changes_results_changes():
    base = {p.trial_id for p in _plan(_cfg())}
    lr = _cfg()
    lr.lm.learning_rate = 1e-2
    seeds = _cfg(seeds=[7])
    mix = _cfg(mixtures={"all": {"uih": 1.0}})
    for changed in (lr, seeds, mix):
        assert not base & {p.trial_id for p in _plan(changed)}


def test_each_trial_writes_into_its_own_folder_named_by_its_id():
    planned = _plan(_cfg())
    for p in planned:
        assert p.config.out_dir == f"/tmp/x/run/sweep/trials/{p.trial_id}"
        assert trial_id(p.config) == p.trial_id


def test_mixtures_with_equal_shares_are_rejected_as_duplicate_trials():
    cfg = _cfg(mixtures={"x": {"uih": 1.0}, "y": {"uih": 1.0}})
    with pytest.raises(ConfigError, match="same trial twice"):
        _plan(cfg)


def test_num_workers_by_model_gives_bigger_models_more_workers():
    cfg = _cfg(num_workers_by_model={"b": 4})
    cfg.lm.batch_size = 8
    workers = {p.model: p.config.lm.num_workers for p in _plan(cfg)}
    assert workers == {"a": 1, "b": 4}


@pytest.mark.parametrize(
    ("sweep", "field"),
    [
        ({"num_workers_by_model": {"zzz": 2}}, "sweep.num_workers_by_model.zzz"),
        ({"token_budgets": [0]}, "sweep.token_budgets"),
        ({"seeds": [1, 1]}, "sweep.seeds"),
        ({"mixtures": {"m": {"uih": 0.0}}}, "sweep.mixtures.m"),
        ({"max_concurrent_trials": 0}, "sweep.max_concurrent_trials"),
        ({"model_sizes": [TWO_SIZES[0], TWO_SIZES[0]]}, "sweep.model_sizes"),
    ],
)
def test_bad_sweep_values_raise_a_config_error_naming_the_field(sweep, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        _cfg(**sweep)


def test_a_token_budget_below_one_optimiser_step_is_refused_at_plan_time():
    cfg = _cfg(token_budgets=[32])  # one step is 4 x 16 = 64 tokens
    with pytest.raises(ConfigError, match="a-32-all-s0: num_tokens=32"):
        _plan(cfg)


def test_unknown_sweep_keys_are_rejected():
    with pytest.raises(ConfigError, match="sweep.grid"):
        from_dict(RunConfig, {"sweep": {"grid": {}}})


# -- concurrency --------------------------------------------------------------------


def test_cpu_trials_run_as_many_at_once_as_cpus_allow():
    cfg = _cfg()
    trials = [p.config for p in _plan(cfg)]
    assert derive_concurrency(cfg.sweep, trials, {"CPU": 2.0}) == 2
    assert derive_concurrency(cfg.sweep, trials, {"CPU": 64.0}) == len(trials)
    assert derive_concurrency(cfg.sweep, trials, {"CPU": 0.5}) == 1


def test_gpu_trials_are_limited_by_the_biggest_trials_gpus():
    cfg = _cfg(num_workers_by_model={"b": 4})
    cfg.lm.use_gpu = True
    cfg.lm.batch_size = 8
    trials = [p.config for p in _plan(cfg)]
    assert derive_concurrency(cfg.sweep, trials, {"CPU": 96.0, "GPU": 8.0}) == 2
    assert derive_concurrency(cfg.sweep, trials, {"CPU": 8.0, "GPU": 0.0}) == 1


def test_max_concurrent_trials_overrides_the_cluster():
    cfg = _cfg(max_concurrent_trials=3)
    trials = [p.config for p in _plan(cfg)]
    assert derive_concurrency(cfg.sweep, trials, {"CPU": 64.0}) == 3


# -- cost ------------------------------------------------------------------------------


def test_shape_parameter_count_matches_the_lm_engine_and_qwen3_0_6b():
    for size in TWO_SIZES:
        model = from_dict(ModelSizeConfig, size)
        assert (
            shape_non_embedding_params(model)
            == model_stats(model, 100, 16)["num_params_non_embedding"]
        )
    qwen06 = ModelSizeConfig(
        name="q",
        hidden_size=1024,
        num_layers=28,
        num_heads=16,
        num_kv_heads=8,
        head_dim=128,
        intermediate_size=3072,
    )
    # Qwen3-0.6B's model card: 0.44B non-embedding parameters.
    assert round(shape_non_embedding_params(qwen06) / 1e9, 2) == 0.44


def test_cost_is_flops_per_token_times_budget_over_assumed_throughput():
    trial = _plan(_cfg())[1].config
    cost = estimate_cost(trial, 1e12, vocab_size=50)
    stats = model_stats(trial.model, 50, trial.lm.max_seq_len)
    assert cost.flops == pytest.approx(stats["flops_per_token"] * trial.num_tokens)
    assert cost.gpu_hours == pytest.approx(cost.flops / 1e12 / 3600)


# -- records and curves --------------------------------------------------------------


def _record(tid: str, fingerprint: str = "fp") -> dict:
    curve = [
        {"tokens": 128, "eval_set": "uih_ood", "loss": 3.0, "kind": "trunk"},
        {"tokens": 256, "eval_set": "uih_ood", "loss": 2.5, "kind": "final"},
    ]
    stats = {
        "num_params": 900,
        "num_params_non_embedding": 600,
        "flops_per_token": 7000.0,
    }
    return {
        "trial_id": tid,
        "model": "a",
        "mixture": "all",
        "seed": 0,
        "num_tokens": 256,
        "inputs_fingerprint": fingerprint,
        "train_s": 1.0,
        "result": {"curve": curve, "final": {"uih_ood": 2.5}, "stats": stats},
    }


def test_only_trials_finished_on_the_same_inputs_count_as_done(tmp_path):
    write_record(tmp_path, _record("t1"))
    write_record(tmp_path, _record("t2", fingerprint="older corpus"))
    done = finished_records(tmp_path, ["t1", "t2", "t3"], "fp")
    assert set(done) == {"t1"}


def test_curves_table_has_the_contract_columns_one_row_per_point():
    frame = curves_frame([_record("t1"), _record("t2")])
    assert list(frame.columns) == CURVE_COLUMNS
    assert len(frame) == 4
    row = frame.iloc[-1]
    assert (row["N"], row["N_total"], row["D"], row["kind"]) == (600, 900, 256, "final")


# -- tracking URI for trials ---------------------------------------------------------


def test_a_loopback_tracking_server_is_reached_through_the_driver_node():
    assert (
        trial_tracking_uri("http://127.0.0.1:5000", "10.0.0.7")
        == "http://10.0.0.7:5000"
    )
    assert trial_tracking_uri("http://localhost/x", "10.0.0.7") == "http://10.0.0.7/x"
    assert (
        trial_tracking_uri("sqlite:////r/mlflow.db", "10.0.0.7")
        == "sqlite:////r/mlflow.db"
    )
    assert trial_tracking_uri(None, "10.0.0.7") is None


# -- shipped specs and the CLI ----------------------------------------------------------


@pytest.mark.parametrize("name", SHIPPED_SPECS)
def test_shipped_sweep_specs_load_and_plan(name):
    cfg = load_config(REPO / "sweeps" / f"{name}.yaml")
    assert len(_plan(cfg)) >= 3


def test_paper_spec_has_the_papers_setup():
    cfg = load_config(REPO / "sweeps" / "paper-qwen3.yaml")
    assert [m.pretrained for m in cfg.sweep.model_sizes] == [
        "Qwen/Qwen3-0.6B-Base",
        "Qwen/Qwen3-1.7B-Base",
        "Qwen/Qwen3-4B-Base",
        "Qwen/Qwen3-8B-Base",
    ]
    lm = cfg.lm
    assert (lm.max_seq_len, lm.batch_size, lm.learning_rate, lm.schedule) == (
        512,
        512,
        1e-4,
        "cosine",
    )
    # 14 loss reads at doubling token counts, 0.02B .. 163.84B
    assert lm.first_eval_tokens * 2**13 == cfg.sweep.token_budgets[0]


def test_sweep_plan_prints_every_trial_with_flops_and_gpu_hours(capsys):
    assert main(["sweep", "plan", str(REPO / "sweeps" / "paper-qwen3.yaml")]) == 0
    out = capsys.readouterr().out
    for name in ("qwen3-0.6b", "qwen3-1.7b", "qwen3-4b", "qwen3-8b"):
        assert name in out
    assert "4 trials" in out and "GPU-hours" in out and "FLOP/s per GPU" in out


def test_a_second_sweep_run_into_the_same_folder_needs_resume(tmp_path, capsys):
    write_record(tmp_path / "run" / "sweep", _record("t1"))
    spec = REPO / "sweeps" / "mixture-ablation.yaml"
    rc = main(
        [
            "sweep",
            "run",
            str(spec),
            "--out",
            str(tmp_path / "run"),
            "--corpus",
            str(tmp_path),
            "--tokenizer",
            str(tmp_path),
        ]
    )
    assert rc == 2
    assert "--resume" in capsys.readouterr().err


def test_sweep_run_refuses_a_corpus_without_a_tokenizer(tmp_path, capsys):
    spec = REPO / "sweeps" / "mixture-ablation.yaml"
    rc = main(["sweep", "run", str(spec), "--out", str(tmp_path), "--corpus", "c"])
    assert rc == 2
    assert "--tokenizer" in capsys.readouterr().err


def test_sweep_ui_needs_a_run_folder_with_an_mlflow_database(tmp_path):
    from synthrec.sweep.ui import ui_command

    with pytest.raises(SynthrecError, match="no MLflow database"):
        ui_command(tmp_path, 5000)
    (tmp_path / "mlflow.db").touch()
    cmd = ui_command(tmp_path, 5123)
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--port") + 1] == "5123"
