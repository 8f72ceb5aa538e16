"""Running a sweep with Ray Tune: one Tune trial per grid point, no early stopping.

Each Tune trial is a function trainable that turns its plain-data config back
into a `TrialConfig` and calls `synthrec.lm.run_trial`, which trains in the
trial's own process (CPU, world size 1) or launches a nested Ray Train job
(GPUs). Ray Train V2 cannot run as a Tune trainable itself, so Tune reserves
only the trial's driver CPUs and the concurrency is capped from the cluster's
GPUs (or CPUs) instead.

Resume: a trial whose record is on disk is not scheduled again; an
interrupted trial is rescheduled with the same output folder, where
`run_trial` finds its checkpoints. Records are written by the driver (a Tune
callback), so a multi-node cluster needs no shared folder for bookkeeping.
"""

import dataclasses
import json
import logging
import math
import os
import time
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from synthrec.configtools import from_dict, to_dict
from synthrec.errors import SynthrecError
from synthrec.io import write_json, write_parquet, write_text
from synthrec.lm.config import TrialConfig
from synthrec.sweep.config import SweepConfig
from synthrec.sweep.plan import PlannedTrial, num_gpus_per_trial, plan_grid
from synthrec.sweep.plots import plot_curves
from synthrec.sweep.records import (
    curves_frame,
    finished_records,
    inputs_fingerprint,
    result_to_plain,
    write_record,
)
from synthrec.tracking import Tracker

if TYPE_CHECKING:  # synthrec.config imports this package's config
    from synthrec.config import RunConfig

log = logging.getLogger(__name__)

_RECORD_KEY = "synthrec_record_json"
_STATE_NAME = "state.json"
# What a trial's record carries besides its result (see records.curves_frame).
_RECORD_META = (
    "trial_id",
    "model",
    "mixture",
    "seed",
    "num_tokens",
    "inputs_fingerprint",
)
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost")


# -- concurrency ----------------------------------------------------------------


def derive_concurrency(
    sweep: SweepConfig, trials: list[TrialConfig], cluster: dict[str, float]
) -> int:
    """How many trials run at once: from the config, else from cluster resources.

    GPU trials: the cluster's GPUs over the GPUs of the biggest trial (Train V2
    workers are scheduled outside Tune, so Tune cannot pack them itself). CPU
    trials: the cluster's CPUs over `sweep.cpus_per_trial`.
    """
    if not trials:
        return 1
    if sweep.max_concurrent_trials is not None:
        return min(sweep.max_concurrent_trials, len(trials))
    gpus_per_trial = max(num_gpus_per_trial(t) for t in trials)
    if gpus_per_trial > 0:
        fit = math.floor(cluster.get("GPU", 0.0) / gpus_per_trial)
        if fit == 0:
            log.warning(
                "the cluster has %s GPUs now and a trial needs %d: running "
                "one trial at a time (set sweep.max_concurrent_trials for an "
                "autoscaling cluster)",
                cluster.get("GPU", 0.0),
                gpus_per_trial,
            )
    else:
        fit = math.floor(cluster.get("CPU", 0.0) / sweep.cpus_per_trial)
    return max(1, min(fit, len(trials)))


# -- the Tune trainable -----------------------------------------------------------


def train_one(config: dict[str, Any]) -> None:
    """Tune function trainable: plain dict in, one `run_trial`, one report out."""
    from ray import tune

    from synthrec.lm import run_trial
    from synthrec.logs import setup_logging

    setup_logging()
    meta = config["trial"]
    trial = from_dict(TrialConfig, meta["config"], where="trial")

    started = time.perf_counter()
    result = run_trial(trial)
    train_s = time.perf_counter() - started

    record = {key: meta[key] for key in _RECORD_META}
    record.update(result=result_to_plain(result), train_s=train_s)
    tune.report({_RECORD_KEY: json.dumps(record), "train_s": train_s})


def _tune_space(pending: list[PlannedTrial], fingerprint: str) -> list[dict[str, Any]]:
    return [
        {
            "trial_id": p.trial_id,
            "model": p.model,
            "mixture": p.mixture,
            "seed": p.seed,
            "num_tokens": p.num_tokens,
            "inputs_fingerprint": fingerprint,
            "config": to_dict(p.config),
        }
        for p in pending
    ]


def _trial_dirname(trial: Any) -> str:
    return str(trial.config["trial"]["trial_id"])


# -- the Tune run -------------------------------------------------------------------


def _make_recorder(
    sweep_dir: Path, total: int, start_done: int, tracker: Tracker
) -> Any:
    """A Tune callback that writes each trial's record on the driver as it reports."""
    from ray import tune

    class RecordTrials(tune.Callback):
        def __init__(self) -> None:
            self.done = start_done

        def on_trial_result(self, iteration, trials, trial, result, **info):  # noqa: ANN001
            if _RECORD_KEY not in result:
                return
            record = json.loads(result[_RECORD_KEY])
            write_record(sweep_dir, record)
            _tag_trial_run(tracker, record)
            self.done += 1
            log.info(
                "trial %d/%d done: %s (%s, %d tokens, mixture %s) in %.1f s",
                self.done,
                total,
                record["trial_id"],
                record["model"],
                record["num_tokens"],
                record["mixture"],
                record["train_s"],
            )

    return RecordTrials()


def _tag_trial_run(tracker: Tracker, record: dict[str, Any]) -> None:
    # Sweep-level names on the trial's MLflow run, to group and filter by.
    run_id = record["result"].get("mlflow_run_id")
    if tracker.uri is None or not run_id:
        return
    Tracker(tracker.uri, tracker.experiment, run_id=run_id).set_tags(
        {
            "synthrec.trial_id": record["trial_id"],
            "synthrec.model": record["model"],
            "synthrec.mixture": record["mixture"],
            "synthrec.seed": record["seed"],
            "synthrec.num_tokens": record["num_tokens"],
        }
    )


def _run_tune(
    cfg: "RunConfig",
    pending: list[PlannedTrial],
    sweep_dir: Path,
    fingerprint: str,
    total: int,
    tracker: Tracker,
) -> int:
    """Run the pending trials on Tune; return how many ran at once."""
    import ray
    from ray import tune

    sweep = cfg.sweep
    concurrency = derive_concurrency(
        sweep, [p.config for p in pending], ray.cluster_resources()
    )
    attempt = _next_attempt(sweep_dir / "tune")
    log.info(
        "sweep: %d of %d trials to run, %d at a time (Tune attempt %s)",
        len(pending),
        total,
        concurrency,
        attempt,
    )

    trainable = tune.with_resources(train_one, {"CPU": sweep.cpus_per_trial})
    tuner = tune.Tuner(
        trainable,
        param_space={"trial": tune.grid_search(_tune_space(pending, fingerprint))},
        tune_config=tune.TuneConfig(
            num_samples=1,
            max_concurrent_trials=concurrency,
            # One actor serves many trials: ~1 s less start-up per trial.
            reuse_actors=True,
            trial_dirname_creator=_trial_dirname,
        ),
        run_config=tune.RunConfig(
            name=attempt,
            storage_path=str((sweep_dir / "tune").resolve()),
            failure_config=tune.FailureConfig(max_failures=sweep.max_failures),
            callbacks=[_make_recorder(sweep_dir, total, total - len(pending), tracker)],
            verbose=0,
        ),
    )
    tuner.fit()
    return concurrency


def _next_attempt(tune_dir: Path) -> str:
    # One Tune experiment folder per (re)start, so attempts never overwrite.
    existing = list(tune_dir.glob("attempt-*")) if tune_dir.is_dir() else []
    return f"attempt-{len(existing) + 1}"


# -- MLflow parent run ------------------------------------------------------------------


def _sweep_parent(
    tracker: Tracker, sweep_dir: Path, planned: list[PlannedTrial], cfg: "RunConfig"
) -> Tracker:
    """The sweep's MLflow run: a child of `tracker`'s run, reused on resume."""
    state_path = sweep_dir / _STATE_NAME
    state = json.loads(state_path.read_text()) if state_path.is_file() else {}
    if state.get("parent_run_id") and tracker.uri is not None:
        log.info("resuming MLflow sweep run %s", state["parent_run_id"])
        return Tracker(tracker.uri, tracker.experiment, run_id=state["parent_run_id"])

    parent = tracker.start_run(
        "sweep", parent_run_id=tracker.run_id, tags={"synthrec.stage": "sweep"}
    )
    parent.log_params(
        {
            "sweep.num_trials": len(planned),
            "sweep.models": ",".join(m.name for m in cfg.sweep.model_sizes),
            "sweep.token_budgets": ",".join(map(str, cfg.sweep.token_budgets)),
            "sweep.mixtures": ",".join(cfg.sweep.mixtures),
            "sweep.seeds": ",".join(map(str, cfg.sweep.seeds)),
            "lm.schedule": cfg.lm.schedule,
            "lm.max_seq_len": cfg.lm.max_seq_len,
            "lm.batch_size": cfg.lm.batch_size,
            "lm.learning_rate": cfg.lm.learning_rate,
        }
    )
    write_json(state_path, {"parent_run_id": parent.run_id})
    return parent


def trial_tracking_uri(uri: str | None, node_ip: str) -> str | None:
    """The tracking URI trials use: a loopback http URI becomes the driver's node.

    On a cluster the MLflow server runs on the head, where the sweep's driver
    runs; trials on other nodes reach it through the head's address.
    """
    if uri is None:
        return None
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme in ("http", "https") and parts.hostname in _LOOPBACK_HOSTS:
        netloc = node_ip if parts.port is None else f"{node_ip}:{parts.port}"
        return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    return uri


def _point_trials_at(
    planned: list[PlannedTrial], tracker: Tracker, parent_run_id: str | None
) -> None:
    # Trials log where the sweep logs, as children of the sweep run.
    import ray.util

    uri = trial_tracking_uri(tracker.uri, ray.util.get_node_ip_address())
    for p in planned:
        p.config.tracking = dataclasses.replace(
            p.config.tracking,
            enabled=tracker.uri is not None,
            tracking_uri=uri,
            experiment_name=tracker.experiment or p.config.tracking.experiment_name,
        )
        p.config.parent_run_id = parent_run_id


# -- the sweep --------------------------------------------------------------------------


def run_sweep(
    cfg: "RunConfig",
    corpus_dir: str | os.PathLike[str],
    tokenizer_dir: str | os.PathLike[str],
    run_dir: str | os.PathLike[str],
    tracker: Tracker,
) -> pd.DataFrame:
    """Run every unfinished trial of the grid on the current Ray; return the curves.

    Writes `RUN/sweep/curves.parquet` (+ `.csv`), `plan.json` and `timings.json`.
    Ray must already be initialised (`synthrec.raylocal.init_ray`).
    """
    started = time.perf_counter()
    sweep_dir = Path(run_dir).resolve() / "sweep"
    planned = plan_grid(cfg, corpus_dir, tokenizer_dir, run_dir)
    fingerprint = inputs_fingerprint(corpus_dir, tokenizer_dir)
    ids = [p.trial_id for p in planned]
    done = finished_records(sweep_dir, ids, fingerprint)
    pending = [p for p in planned if p.trial_id not in done]
    if done:
        log.info(
            "resume: %d of %d trials already finished; skipping them",
            len(done),
            len(planned),
        )

    # One MLflow parent run per sweep; trials become its children.
    parent = _sweep_parent(tracker, sweep_dir, planned, cfg)
    _point_trials_at(planned, tracker, parent.run_id)
    _write_plan(sweep_dir, planned)

    concurrency = 0
    if pending:
        concurrency = _run_tune(
            cfg, pending, sweep_dir, fingerprint, len(planned), tracker
        )
    records = finished_records(sweep_dir, ids, fingerprint)
    frame = _write_curves(sweep_dir, [records[i] for i in ids if i in records])
    _write_timings(
        sweep_dir, records, pending, concurrency, time.perf_counter() - started
    )
    for name in ("curves.csv", "curves.png"):
        parent.log_artifact(sweep_dir / name)

    missing = [i for i in ids if i not in records]
    if missing:
        parent.end_run("FAILED")
        raise SynthrecError(
            f"{len(missing)} of {len(ids)} sweep trials did not finish "
            f"({', '.join(missing[:5])}{'...' if len(missing) > 5 else ''}); their "
            f"Tune logs are under {sweep_dir / 'tune'}; rerun with --resume to retry"
        )
    parent.end_run("FINISHED")
    return frame


def _write_plan(sweep_dir: Path, planned: list[PlannedTrial]) -> None:
    write_json(
        sweep_dir / "plan.json",
        [
            {
                "trial_id": p.trial_id,
                "model": p.model,
                "mixture": p.mixture,
                "seed": p.seed,
                "num_tokens": p.num_tokens,
                "out_dir": p.config.out_dir,
            }
            for p in planned
        ],
    )


def _write_curves(sweep_dir: Path, records: list[dict[str, Any]]) -> pd.DataFrame:
    frame = curves_frame(records)
    write_parquet(sweep_dir / "curves.parquet", frame)
    write_text(sweep_dir / "curves.csv", frame.to_csv(index=False))
    plot_curves(frame, sweep_dir / "curves.png")
    log.info(
        "sweep: %d curve points from %d trials -> %s",
        len(frame),
        len(records),
        sweep_dir / "curves.parquet",
    )
    return frame


def _write_timings(
    sweep_dir: Path,
    records: dict[str, dict[str, Any]],
    pending: list[PlannedTrial],
    concurrency: int,
    wall_s: float,
) -> None:
    # Share of this invocation's trial slots (wall time x concurrency) that was
    # not spent inside run_trial: scheduling, process start-up, bookkeeping.
    ran = [records[p.trial_id] for p in pending if p.trial_id in records]
    train_s = sum(r["train_s"] for r in ran)
    slots_s = wall_s * max(1, concurrency)
    timings = {
        "wall_s": wall_s,
        "concurrency": concurrency,
        "trials_run": len(ran),
        "train_s_sum": train_s,
        "outside_training_share": 1.0 - train_s / slots_s if ran else None,
    }
    write_json(sweep_dir / "timings.json", timings)
