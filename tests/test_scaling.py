"""Scaling-law fits: recovery of known laws, the objective, bootstrap, bad input."""

import numpy as np
import pandas as pd
import pytest

from synthrec.errors import SynthrecError
from synthrec.scaling import ScalingConfig, fit_curves, laws
from synthrec.scaling.bootstrap import refit_batched, refit_serial, resample_weights
from synthrec.scaling.fit import fit_form, points_of, select_points
from synthrec.scaling.plan import compute_optimal, optimal_allocation

TRUE_JOINT = {"E": 0.5, "A": 40.0, "alpha": 0.3, "B": 300.0, "beta": 0.35}
SIZES = np.geomspace(1e5, 1e8, 6)
TOKENS = np.geomspace(2**17, 2**28, 12)


def joint_params(values: dict = TRUE_JOINT) -> np.ndarray:
    return np.array([[values[k] for k in laws.JOINT.param_names]])


def grid_points(sizes=SIZES, tokens=TOKENS) -> np.ndarray:
    n, d = np.meshgrid(sizes, tokens, indexing="ij")
    return np.column_stack([n.ravel(), d.ravel()])


def noisy(loss: np.ndarray, noise: float, seed: int) -> np.ndarray:
    return loss * (
        1.0 + noise * np.random.default_rng(seed).standard_normal(loss.shape)
    )


def curves_table(
    noise: float = 0.0,
    seeds=(0,),
    sizes=SIZES,
    truth=TRUE_JOINT,
    eval_set: str = "uih_ood",
    run_offset: float = 0.0,
    draw: int = 0,
) -> pd.DataFrame:
    """A sweep-shaped table: one run per (size, seed), every token count."""
    rng = np.random.default_rng(draw)
    rows = []
    for n in sizes:
        for seed in seeds:
            offset = 1.0 + run_offset * rng.standard_normal()
            loss = laws.predict(joint_params(truth), grid_points([n]))[0]
            loss = loss * offset * (1.0 + noise * rng.standard_normal(len(loss)))
            for d, value in zip(TOKENS, loss, strict=True):
                rows.append(
                    {
                        "trial_id": f"n{n:.0f}-s{seed}",
                        "N": n,
                        "D": d,
                        "eval_set": eval_set,
                        "loss": value,
                        "seed": seed,
                        "kind": "trunk",
                    }
                )
    return pd.DataFrame(rows)


# -- recovery -------------------------------------------------------------------


@pytest.mark.parametrize("method", ["lbfgs", "varpro"])
def test_joint_fit_recovers_exact_synthetic_parameters(method):
    x = grid_points()
    problem = laws.make_problem(laws.JOINT, x, laws.predict(joint_params(), x)[0])
    fitted = laws.fit(problem, method=method).params
    for name, value in TRUE_JOINT.items():
        assert fitted[name] == pytest.approx(value, rel=1e-5), name


def test_per_size_fit_recovers_exact_synthetic_parameters():
    truth = np.array([[1.2, 300.0, 0.35]])
    problem = laws.make_problem(
        laws.PER_SIZE, TOKENS[:, None], laws.predict(truth, TOKENS[:, None])[0]
    )
    fitted = laws.fit_lbfgs(problem)
    assert fitted.converged
    np.testing.assert_allclose(list(fitted.params.values()), truth[0], rtol=1e-6)


def test_joint_exponents_are_within_two_hundredths_at_one_percent_noise():
    x = grid_points()
    loss = noisy(laws.predict(joint_params(), x)[0], 0.01, seed=3)
    fitted = laws.fit_lbfgs(laws.make_problem(laws.JOINT, x, loss)).params
    assert abs(fitted["alpha"] - TRUE_JOINT["alpha"]) <= 0.02
    assert abs(fitted["beta"] - TRUE_JOINT["beta"]) <= 0.02


def test_per_size_exponent_is_within_two_hundredths_at_one_percent_noise():
    truth = np.array([[1.0, 300.0, 0.35]])
    loss = noisy(laws.predict(truth, TOKENS[:, None])[0], 0.01, seed=5)
    fitted = laws.fit_lbfgs(laws.make_problem(laws.PER_SIZE, TOKENS[:, None], loss))
    assert abs(fitted.params["alpha"] - 0.35) <= 0.02


def test_lbfgs_and_variable_projection_agree_on_noisy_curves():
    x = grid_points()
    loss = noisy(laws.predict(joint_params(), x)[0], 0.01, seed=7)
    problem = laws.make_problem(laws.JOINT, x, loss)
    a, b = laws.fit_lbfgs(problem), laws.fit_varpro(problem)
    assert a.objective == pytest.approx(b.objective, rel=1e-6)
    for name in laws.JOINT.param_names:
        assert a.params[name] == pytest.approx(b.params[name], rel=1e-4), name


# -- the objective ------------------------------------------------------------------


def test_huber_objective_is_a_sum_over_points_not_a_mean():
    x = grid_points()
    loss = noisy(laws.predict(joint_params(), x)[0], 0.01, seed=1)
    once = laws.make_problem(laws.JOINT, x, loss)
    twice = laws.make_problem(
        laws.JOINT, np.vstack([x, x]), np.concatenate([loss, loss])
    )
    theta = laws.params_to_theta(joint_params(), once.log_x0)
    single = laws.huber_objective(theta, once, 1e-3)[0]
    assert laws.huber_objective(theta, twice, 1e-3)[0] == pytest.approx(2 * single)


def test_huber_objective_matches_a_hand_computed_sum():
    x = grid_points()[::9][:8]
    truth = laws.predict(joint_params(), x)[0]
    residuals = np.array([0.0, 5e-4, -5e-4, 2e-3, -3e-3, 0.01, 0.0, 0.0])
    problem = laws.make_problem(laws.JOINT, x, truth * np.exp(-residuals))
    theta = laws.params_to_theta(joint_params(), problem.log_x0)
    delta = 1e-3
    expected = sum(
        0.5 * r * r if abs(r) <= delta else delta * (abs(r) - delta / 2)
        for r in residuals
    )
    assert laws.huber_objective(theta, problem, delta)[0] == pytest.approx(expected)


def test_point_weights_of_zero_exclude_points_from_the_fit():
    x = grid_points()
    loss = laws.predict(joint_params(), x)[0]
    corrupted = loss.copy()
    corrupted[::7] *= 1.5
    weight = np.ones_like(loss)
    weight[::7] = 0.0
    fitted = laws.fit_lbfgs(laws.make_problem(laws.JOINT, x, corrupted, weight)).params
    assert fitted["alpha"] == pytest.approx(TRUE_JOINT["alpha"], rel=1e-4)


# -- bootstrap --------------------------------------------------------------------


def test_bootstrap_resamples_whole_runs_within_each_model_size():
    units = np.array(["a", "a", "a", "b", "b", "c", "c", "d"])
    strata = np.array([1, 1, 1, 1, 1, 2, 2, 2])
    counts = resample_weights(units, strata, num=50, seed=0).counts
    # Points of one run always share a multiplicity.
    assert np.all(counts[:, 0] == counts[:, 1]) and np.all(counts[:, 3] == counts[:, 4])
    # Each stratum keeps its number of runs: 2 runs of size 1 and 2 of size 2.
    assert np.all(counts[:, 0] + counts[:, 3] == 2)
    assert np.all(counts[:, 5] + counts[:, 7] == 2)


def test_a_stratum_with_a_single_run_falls_back_to_points_and_says_so():
    units = np.array(["a", "a", "a", "b", "c"])
    strata = np.array([1, 1, 1, 2, 2])
    resamples = resample_weights(units, strata, num=20, seed=0)
    assert resamples.point_fallback_strata == (1,)
    assert np.all(resamples.counts[:, :3].sum(axis=1) == 3)


def test_batched_bootstrap_refits_match_serial_lbfgs_refits():
    table = curves_table(noise=0.01, seeds=(0, 1))
    x, loss = table[["N", "D"]].to_numpy(), table["loss"].to_numpy()
    problem = laws.make_problem(laws.JOINT, x, loss)
    full = laws.fit_lbfgs(problem)
    units = table["trial_id"].to_numpy()
    weights = resample_weights(units, table["N"].to_numpy(), 6, seed=1).counts * 1.0
    batched, converged = refit_batched(problem, full.theta, weights, 1e-3)
    serial = refit_serial(problem, full.theta, weights, 1e-3)
    assert converged.all()
    np.testing.assert_allclose(
        laws.theta_to_params(batched, problem.log_x0),
        laws.theta_to_params(serial, problem.log_x0),
        rtol=1e-3,
    )


def test_bootstrap_intervals_cover_the_truth_at_roughly_their_nominal_rate():
    # Runs carry a shared offset (correlated noise), which bootstrap by run sees.
    cfg = ScalingConfig(num_bootstrap=100, confidence_level=0.8, num_starts=2)
    sizes = np.geomspace(1e5, 1e8, 4)
    covered, draws = [], 20
    for draw in range(draws):
        table = curves_table(
            noise=0.005,
            seeds=(0, 1, 2, 3, 4),
            sizes=sizes,
            run_offset=0.005,
            draw=100 + draw,
        )
        points = points_of(select_points(table, cfg), cfg, "uih_ood")
        joint, _ = fit_form(laws.JOINT, points.x_joint, points, points.n, cfg, draw)
        beta_ci = joint["ci"]["beta"]
        covered.append(beta_ci[0] <= TRUE_JOINT["beta"] <= beta_ci[1])
    # Nominal 80%: 16 of 20 expected; a binomial 1% tail sits near 11.
    assert 11 <= sum(covered) <= draws


# -- fit_curves -------------------------------------------------------------------


def test_fit_curves_returns_the_contract_paths_as_plain_floats():
    fits = fit_curves(
        curves_table(noise=0.005, seeds=(0, 1)), ScalingConfig(num_bootstrap=20)
    )
    entry = fits["uih_ood"]
    for name in ("E", "A", "alpha", "B", "beta"):
        assert type(entry["joint"][name]) is float
        lo, hi = entry["joint"]["ci"][name]
        assert lo <= hi
    assert set(entry["per_size"]) == {str(int(n)) for n in SIZES}
    assert all(type(v["alpha"]) is float for v in entry["per_size"].values())
    for check in entry["holdout"].values():
        assert check["mean_abs_rel_error"] < 0.02
        lo, hi = check["final_pred_ci"]
        assert lo <= check["final_pred"] <= hi
    assert entry["holdout"]["largest_n"]["final_N"] == SIZES[-1]


def test_fit_curves_is_deterministic_for_the_same_config():
    table = curves_table(noise=0.01, seeds=(0, 1), sizes=SIZES[::2])
    cfg = ScalingConfig(num_bootstrap=10, num_starts=2)
    assert fit_curves(table, cfg) == fit_curves(table, cfg)


def test_holdout_errors_vanish_on_exact_curves():
    fits = fit_curves(curves_table(), ScalingConfig(num_bootstrap=0, fit_by_size=False))
    for check in fits["uih_ood"]["holdout"].values():
        assert check["max_abs_rel_error"] < 1e-6


def test_warm_up_points_below_min_tokens_are_excluded():
    table = curves_table()
    table.loc[table["D"] < 2**20, "loss"] *= 3.0  # a warm-up region off the law
    cfg = ScalingConfig(num_bootstrap=0, holdout=False, min_tokens=2**20)
    joint = fit_curves(table, cfg)["uih_ood"]["joint"]
    assert joint["beta"] == pytest.approx(TRUE_JOINT["beta"], rel=1e-4)


def test_annealed_only_fits_ignore_trunk_points():
    table = curves_table()
    table["kind"] = np.where(table["D"] >= 2**22, "final", "trunk")
    table.loc[table["kind"] == "trunk", "loss"] *= 1.3
    cfg = ScalingConfig(num_bootstrap=0, holdout=False, annealed_only=True)
    joint = fit_curves(table, cfg)["uih_ood"]["joint"]
    assert joint["alpha"] == pytest.approx(TRUE_JOINT["alpha"], rel=1e-4)


# -- bad input -------------------------------------------------------------------


def test_nan_losses_are_refused_with_a_clear_message():
    x = grid_points()
    loss = laws.predict(joint_params(), x)[0]
    loss[3] = np.nan
    with pytest.raises(SynthrecError, match="NaN or infinite"):
        laws.make_problem(laws.JOINT, x, loss)


def test_a_joint_fit_of_a_single_model_size_is_refused():
    x = grid_points(sizes=[1e6])
    with pytest.raises(SynthrecError, match="several model sizes"):
        laws.make_problem(laws.JOINT, x, laws.predict(joint_params(), x)[0])


def test_too_few_points_for_the_form_are_refused():
    with pytest.raises(SynthrecError, match="too few points"):
        laws.make_problem(laws.PER_SIZE, TOKENS[:3, None], np.array([3.0, 2.0, 1.5]))


def test_a_flat_curve_reports_its_exponent_as_unconstrained():
    loss = 3.0 * (1 + 1e-3 * np.sin(np.arange(len(TOKENS))))
    fitted = laws.fit_lbfgs(laws.make_problem(laws.PER_SIZE, TOKENS[:, None], loss))
    assert "alpha" in fitted.at_bounds


def test_fit_curves_records_a_bad_eval_set_and_fits_the_others():
    good = curves_table(eval_set="cf_seen_pair")
    bad = curves_table(eval_set="uih_ood")
    bad.loc[bad.index[5], "loss"] = np.inf
    fits = fit_curves(pd.concat([good, bad]), ScalingConfig(num_bootstrap=0))
    assert "NaN or infinite" in fits["uih_ood"]["joint"]["error"]
    assert fits["uih_ood"]["error"] == fits["uih_ood"]["joint"]["error"]
    assert fits["cf_seen_pair"]["joint"]["alpha"] == pytest.approx(0.3, rel=1e-4)


def test_an_eval_set_emptied_by_the_exclusions_says_why():
    table = curves_table()
    fits = fit_curves(table, ScalingConfig(num_bootstrap=0, annealed_only=True))
    assert "no points left" in fits["uih_ood"]["error"]


def test_a_table_without_the_needed_columns_is_refused():
    with pytest.raises(SynthrecError, match="lacks column"):
        fit_curves(pd.DataFrame({"N": [1.0], "D": [2.0]}), ScalingConfig())


# -- compute-optimal planning ------------------------------------------------------


def test_compute_optimal_allocation_matches_a_brute_force_search():
    budget, k = 1e21, 6.0
    n_opt, d_opt, loss = optimal_allocation(joint_params(), budget, k)
    n_grid = np.geomspace(1e6, 1e14, 200001)
    x = np.column_stack([n_grid, budget / (k * n_grid)])
    brute = laws.predict(joint_params(), x)[0]
    assert n_opt[0] == pytest.approx(n_grid[np.argmin(brute)], rel=1e-3)
    assert loss[0] == pytest.approx(brute.min(), rel=1e-9)
    assert n_opt[0] * d_opt[0] * k == pytest.approx(budget)


def test_compute_optimal_reports_intervals_from_the_bootstrap():
    fits = fit_curves(
        curves_table(noise=0.005, seeds=(0, 1)),
        ScalingConfig(num_bootstrap=30, holdout=False),
    )
    plan = compute_optimal(fits["uih_ood"], 1e21)
    assert plan["ci"]["N"][0] <= plan["N"] <= plan["ci"]["N"][1]
    assert "6 N D" in plan["flops_source"]
