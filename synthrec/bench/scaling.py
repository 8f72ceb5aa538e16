"""Benchmark: a joint L(N, D) fit with 1,000 bootstrap resamples.

Data: a synthetic sweep (5 model sizes x 3 seeds x 10 doubling token counts,
150 points, 1% noise, known law). Timed, each against a named baseline:

- the point fit: L-BFGS-B from the 8 best grid starts (ours, default) vs
  variable projection (the alternative solver); both reach the same optimum;
- the bootstrap: batched Levenberg-Marquardt over all resamples at once
  (ours) vs a serial loop of warm-started L-BFGS-B fits (baseline).

    python -m synthrec.bench scaling [--num-bootstrap 1000] [--repeats 1]
                                     [--coverage DRAWS]

`--coverage DRAWS` also measures how often 90% intervals cover the true
exponents over DRAWS synthetic sweeps whose runs carry a shared offset
(correlated noise): bootstrap by run (ours) vs by point (baseline).
"""

import argparse
import time

import numpy as np

from synthrec.scaling import laws
from synthrec.scaling.bootstrap import (
    percentile_interval,
    refit_batched,
    refit_serial,
    resample_weights,
)

TRUTH = np.array([[0.5, 40.0, 0.3, 300.0, 0.35]])
SIZES = np.geomspace(1e5, 2.56e7, 5)
TOKENS = 2.0 ** np.arange(17, 27)
SEEDS = 3
NOISE = 0.01


def synthetic_sweep(seed: int = 0) -> tuple[laws.Problem, np.ndarray, np.ndarray]:
    """The benchmark problem, its run ids and its strata (model sizes)."""
    rng = np.random.default_rng(seed)
    rows = [(n, d, s) for n in SIZES for s in range(SEEDS) for d in TOKENS]
    x = np.array([[n, d] for n, d, _ in rows])
    loss = laws.predict(TRUTH, x)[0] * (1 + NOISE * rng.standard_normal(len(x)))
    units = np.array([f"{n:.0f}/{s}" for n, _, s in rows])
    return laws.make_problem(laws.JOINT, x, loss), units, x[:, 0]


def correlated_sweep(draw: int) -> tuple[laws.Problem, np.ndarray, np.ndarray]:
    """4 sizes x 5 seeds; each run shifted by a 0.5% offset, points by 0.5% noise."""
    rng = np.random.default_rng(1000 + draw)
    sizes, seeds, tokens = np.geomspace(1e5, 1e8, 4), 5, TOKENS
    x, loss, units = [], [], []
    for n in sizes:
        for s in range(seeds):
            offset = 1 + 0.005 * rng.standard_normal()
            xs = np.column_stack([np.full(len(tokens), n), tokens])
            noise = 1 + 0.005 * rng.standard_normal(len(tokens))
            x.append(xs)
            loss.append(laws.predict(TRUTH, xs)[0] * offset * noise)
            units += [f"{n:.0f}/{s}"] * len(tokens)
    x = np.vstack(x)
    problem = laws.make_problem(laws.JOINT, x, np.concatenate(loss))
    return problem, np.array(units), x[:, 0]


def coverage(draws: int, num_bootstrap: int, level: float = 0.9) -> None:
    """Coverage of the exponents' intervals: by run vs by point."""
    hits = {"run": np.zeros(2), "point": np.zeros(2)}
    for draw in range(draws):
        problem, units, strata = correlated_sweep(draw)
        fit = laws.fit_lbfgs(problem, num_starts=2)
        by_point = np.arange(len(units)).astype(str)
        for name, unit in (("run", units), ("point", by_point)):
            counts = resample_weights(unit, strata, num_bootstrap, seed=draw).counts
            thetas, _ = refit_batched(problem, fit.theta, counts * 1.0, 1e-3)
            params = laws.theta_to_params(thetas, problem.log_x0)
            for j, (col, truth) in enumerate(((2, TRUTH[0, 2]), (4, TRUTH[0, 4]))):
                lo, hi = percentile_interval(params[:, col], level)
                hits[name][j] += lo <= truth <= hi
    for name, label in (("run", "by run (ours)"), ("point", "by point (baseline)")):
        rate = hits[name] / draws
        print(
            f"coverage of {level:.0%} intervals over {draws} draws, {label}: "
            f"alpha {rate[0]:.0%}, beta {rate[1]:.0%}"
        )


def _best_time(fn, repeats: int):
    """Best wall and CPU seconds over `repeats` calls, and the last result."""
    wall = cpu = float("inf")
    out = None
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        out = fn()
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    return (wall, cpu), out


def _t(seconds: tuple[float, float]) -> str:
    return f"{seconds[0]:7.3f} s wall ({seconds[1]:.3f} s CPU)"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m synthrec.bench scaling")
    parser.add_argument("--num-bootstrap", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--coverage", type=int, default=0, metavar="DRAWS")
    args = parser.parse_args(argv)

    problem, units, strata = synthetic_sweep()
    print(
        f"problem: joint L(N, D), {len(units)} points, {len(set(units))} runs, "
        f"{NOISE:.0%} noise, Huber delta 1e-3"
    )

    # The point fit: two solvers of the same objective.
    t_lbfgs, lbfgs = _best_time(lambda: laws.fit_lbfgs(problem), args.repeats)
    t_varpro, varpro = _best_time(lambda: laws.fit_varpro(problem), args.repeats)
    gap = max(
        abs(lbfgs.params[k] - varpro.params[k]) / abs(varpro.params[k])
        for k in laws.JOINT.param_names
    )
    print(f"point fit: lbfgs (8 starts) {_t(t_lbfgs)}; varpro {_t(t_varpro)}")
    print(
        f"  max rel param gap {gap:.1e}; objective {lbfgs.objective:.6e} (lbfgs) "
        f"vs {varpro.objective:.6e} (varpro)"
    )

    # The bootstrap: batched vs serial refits of the same resamples.
    weights = resample_weights(units, strata, args.num_bootstrap, seed=0).counts * 1.0
    t_batched, (thetas, converged) = _best_time(
        lambda: refit_batched(problem, lbfgs.theta, weights, 1e-3), args.repeats
    )
    t_serial, serial = _best_time(
        lambda: refit_serial(problem, lbfgs.theta, weights, 1e-3), args.repeats
    )
    a = laws.theta_to_params(thetas, problem.log_x0)
    b = laws.theta_to_params(serial, problem.log_x0)
    rel = np.median(np.max(np.abs(a - b) / np.abs(b), axis=1))
    print(
        f"bootstrap x{args.num_bootstrap}: batched LM {_t(t_batched)}; "
        f"serial L-BFGS (baseline) {_t(t_serial)}"
    )
    print(
        f"  speed-up {t_serial[0] / t_batched[0]:.1f}x wall, "
        f"{t_serial[1] / t_batched[1]:.1f}x CPU; converged {converged.mean():.1%}; "
        f"median max rel param gap {rel:.1e}"
    )
    alpha = a[:, 2]
    print(
        f"alpha = {lbfgs.params['alpha']:.4f}, 90% interval "
        f"[{np.percentile(alpha, 5):.4f}, {np.percentile(alpha, 95):.4f}] "
        f"(truth {TRUTH[0, 2]})"
    )
    ours, base = t_lbfgs[0] + t_batched[0], t_lbfgs[0] + t_serial[0]
    print(
        f"joint fit + {args.num_bootstrap} resamples, wall: {ours:.2f} s (ours) vs "
        f"{base:.2f} s (baseline)"
    )
    if args.coverage:
        coverage(args.coverage, num_bootstrap=200)
    return 0
