"""Running one CPT trial: in this process, or as a Ray Train job.

Both backends call the same per-worker function (`train_loop_per_worker`)
with the trial as plain data. "local" runs it here with world size 1 (a
nested Ray Train job costs ~20 s per trial on a 2-core machine); "ray_train"
runs it under a `TorchTrainer` with `lm.num_workers` workers (DDP or DeepSpeed,
gloo on CPU), with the training shards as Ray Data datasets that the workers
read through `ray.train.get_dataset_shard`, checkpoints through Ray Train and
restarts after failures.
"auto" picks local for CPU single-worker DDP trials and logs the choice.

Rank 0 writes `result.json`, `curve.parquet` and `model/` into `trial.out_dir`;
`run_trial` reads them back into a `TrialResult`. A trial whose `result.json`
exists for the same config is not run again.
"""

import logging
from dataclasses import dataclass
from pathlib import Path

from synthrec.configtools import config_hash, to_dict
from synthrec.errors import SynthrecError
from synthrec.io import read_json
from synthrec.lm.config import LMConfig, TrialConfig
from synthrec.lm.data import ray_train_datasets
from synthrec.lm.train import (
    MODEL_DIR,
    RESULT_FILE,
    ray_train_entry,
    train_loop_per_worker,
)

log = logging.getLogger(__name__)


@dataclass
class TrialResult:
    # rows {"tokens", "eval_set", "loss", "kind"}; kind: trunk, cooldown or final
    curve: list[dict]
    # eval_set -> loss at the end of the run
    final: dict[str, float]
    # model_stats plus tokens, tokens_by_modality, wall_s, train_s, tokens_per_s
    stats: dict
    out_dir: str = ""
    model_dir: str = ""
    mlflow_run_id: str | None = None
    backend: str = "local"


def choose_backend(lm: LMConfig) -> str:
    """The backend a trial runs on ("auto" resolved)."""
    if lm.backend != "auto":
        return lm.backend
    single_cpu = (
        lm.num_workers == 1 and not lm.use_gpu and lm.resolved_strategy == "ddp"
    )
    return "local" if single_cpu else "ray_train"


def run_trial(trial: TrialConfig) -> TrialResult:
    """Train one model on the mixture to `trial.num_tokens`; return its curves."""
    trial.validate()
    trial = _absolute_paths(trial)
    out_dir = Path(trial.out_dir)
    done = _load_result(out_dir, trial)
    if done is not None:
        log.info("trial %s already done in %s; reusing it", trial.run_name, out_dir)
        return done

    backend = choose_backend(trial.lm)
    log.info(
        "trial %s: backend %s (lm.backend=%s, %d worker(s), gpu=%s)",
        trial.run_name,
        backend,
        trial.lm.backend,
        trial.lm.num_workers,
        trial.lm.use_gpu,
    )
    if backend == "local":
        _check_local(trial.lm)
        train_loop_per_worker(to_dict(trial))
    else:
        _run_ray_train(trial)

    result = _load_result(out_dir, trial)
    if result is None:
        raise SynthrecError(
            f"trial {trial.run_name} ended without {RESULT_FILE} in {out_dir}"
        )
    result.backend = backend
    return result


def _absolute_paths(trial: TrialConfig) -> TrialConfig:
    """Workers may run in another folder: pass them absolute paths."""
    from synthrec.configtools import from_dict

    data = to_dict(trial)
    for key in ("corpus_dir", "tokenizer_dir", "out_dir"):
        data[key] = str(Path(data[key]).resolve())
    return from_dict(TrialConfig, data)


def _check_local(lm: LMConfig) -> None:
    if lm.num_workers != 1:
        raise SynthrecError(
            f"lm.backend='local' runs one worker, but lm.num_workers="
            f"{lm.num_workers}; use lm.backend='ray_train'"
        )
    if lm.resolved_strategy == "deepspeed":
        raise SynthrecError(
            "lm.strategy='deepspeed' needs lm.backend='ray_train' (or 'auto')"
        )
    if lm.fault_at_step is not None:
        raise SynthrecError(
            "lm.fault_at_step kills a worker process: use it only "
            "with lm.backend='ray_train'"
        )


def _load_result(out_dir: Path, trial: TrialConfig) -> TrialResult | None:
    path = out_dir / RESULT_FILE
    if not path.is_file():
        return None
    data = read_json(path)
    if data.get("config_hash") != config_hash(trial):
        return None
    return TrialResult(
        curve=data["curve"],
        final=data["final"],
        stats=data["stats"],
        out_dir=str(out_dir),
        model_dir=str(out_dir / MODEL_DIR),
        mlflow_run_id=data.get("mlflow_run_id"),
    )


def _run_ray_train(trial: TrialConfig) -> None:
    """One TorchTrainer job; Ray Train restarts it from the last checkpoint."""
    from synthrec.config import RayConfig
    from synthrec.raylocal import init_ray

    init_ray(RayConfig(), trial.out_dir)  # no-op when Ray is already up
    import ray.train
    from ray.train.torch import TorchConfig, TorchTrainer

    lm = trial.lm
    datasets, data_config = ray_train_datasets(trial.corpus_dir, trial.mixture)
    trainer = TorchTrainer(
        ray_train_entry,
        train_loop_config=to_dict(trial),
        datasets=datasets,
        dataset_config=data_config,
        torch_config=TorchConfig(backend="nccl" if lm.use_gpu else "gloo"),
        scaling_config=ray.train.ScalingConfig(
            num_workers=lm.num_workers,
            use_gpu=lm.use_gpu,
            resources_per_worker=None if lm.use_gpu else {"CPU": 1},
        ),
        run_config=ray.train.RunConfig(
            name="ray_train",
            storage_path=str(Path(trial.out_dir) / "ray_results"),
            failure_config=ray.train.FailureConfig(max_failures=lm.max_failures),
            checkpoint_config=ray.train.CheckpointConfig(num_to_keep=2),
        ),
    )
    try:
        trainer.fit()
    except ray.train.TrainingFailedError as exc:
        raise SynthrecError(
            f"Ray Train job of trial {trial.run_name} failed: {exc}"
        ) from exc
