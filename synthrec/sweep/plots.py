"""The sweep's scaling curves as one PNG: loss against tokens, one panel per set."""

import math
from pathlib import Path

import pandas as pd

from synthrec.io import atomic_path

_PANEL_INCHES = 3.2
_MAX_COLUMNS = 4


def plot_curves(curves: pd.DataFrame, target: str | Path) -> Path | None:
    """Log-log loss vs tokens seen per eval set; colour = model size.

    One line per trial (trunk points), annealed points (`final`, `cooldown`)
    as markers. Returns None when there is nothing to draw.
    """
    if curves.empty:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = sorted(curves["eval_set"].unique())
    cols = min(_MAX_COLUMNS, len(sets))
    rows = math.ceil(len(sets) / cols)
    fig, axes = plt.subplots(
        rows, cols, squeeze=False, figsize=(_PANEL_INCHES * cols, _PANEL_INCHES * rows)
    )
    models = curves.sort_values("N")["model"].drop_duplicates().tolist()
    colours = {
        m: plt.cm.viridis(i / max(1, len(models) - 1)) for i, m in enumerate(models)
    }

    for ax, eval_set in zip(axes.flat, sets, strict=False):
        _draw_panel(ax, curves[curves["eval_set"] == eval_set], colours)
        ax.set_title(eval_set)
    for ax in list(axes.flat)[len(sets) :]:
        ax.axis("off")
    handles = [plt.Line2D([], [], color=colours[m], label=m) for m in models]
    fig.legend(handles=handles, loc="upper right", title="model")
    fig.tight_layout()

    target = Path(target)
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return target


def _draw_panel(ax, frame: pd.DataFrame, colours: dict) -> None:  # noqa: ANN001
    for (_, model), trial in frame.groupby(["trial_id", "model"], sort=True):
        trunk = trial[trial["kind"] == "trunk"].sort_values("D")
        annealed = trial[trial["kind"] != "trunk"]
        ax.plot(trunk["D"], trunk["loss"], color=colours[model], lw=1, alpha=0.8)
        ax.scatter(annealed["D"], annealed["loss"], color=colours[model], s=12)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("tokens seen D")
    ax.set_ylabel("loss")
