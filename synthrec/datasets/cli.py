"""`synthrec data prepare CONFIG --out DIR` and `synthrec data stats DATASET`."""

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)

_DEFAULT_STATS_ROOT = Path("runs") / "data"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("data", help="prepare real interaction logs; stats")
    commands = parser.add_subparsers(dest="data_command", metavar="COMMAND")

    prepare = commands.add_parser(
        "prepare",
        help="load, clean, split and cache the data of a run config",
        description="Write interactions.parquet, items.parquet and manifest.json "
        "for the `data` section of CONFIG into OUT (reused when unchanged).",
    )
    prepare.add_argument("config", help="run config YAML (its data: section is used)")
    prepare.add_argument("--out", required=True, help="output folder")
    prepare.set_defaults(func=_prepare)

    stats = commands.add_parser(
        "stats",
        help="users, items, density, lengths, ties, text coverage",
        description="Prepare DATASET (a registry name, or a folder written by "
        "`data prepare`) and print its statistics; also saved as stats.json.",
    )
    stats.add_argument(
        "dataset", help="registry name (e.g. ml-latest-small) or a prepared folder"
    )
    stats.add_argument(
        "--config", default=None, help="run config YAML whose data: settings to use"
    )
    stats.add_argument("--path", default=None, help="folder of the source files")
    stats.add_argument(
        "--out",
        default=None,
        help=f"where to cache the prepared data (default "
        f"{_DEFAULT_STATS_ROOT}/DATASET)",
    )
    stats.add_argument("--seed", type=int, default=0)
    stats.set_defaults(func=_stats)
    parser.set_defaults(func=lambda _args: parser.print_help() or 2)


def _prepare(args: argparse.Namespace) -> int:
    from synthrec.config import load_config
    from synthrec.datasets import prepare_dataset

    cfg = load_config(args.config)
    data = prepare_dataset(cfg.data, Path(args.out), cfg.seed)
    print(
        f"prepared {data.manifest['dataset']}: {data.n_users:,} users, "
        f"{data.n_items:,} items, {len(data.interactions):,} interactions "
        f"-> {args.out}"
    )
    return 0


def _stats(args: argparse.Namespace) -> int:
    from synthrec.config import load_config
    from synthrec.datasets import DataConfig, load_prepared, prepare_dataset
    from synthrec.datasets.stats import dataset_stats, format_stats
    from synthrec.io import write_json

    given = Path(args.dataset)
    if given.is_dir() and (given / "manifest.json").is_file():
        data, out = load_prepared(given), given
    else:
        cfg = load_config(args.config).data if args.config else DataConfig()
        cfg.dataset = args.dataset
        cfg.path = args.path or cfg.path
        cfg.validate()
        out = Path(args.out) if args.out else _DEFAULT_STATS_ROOT / args.dataset
        data = prepare_dataset(cfg, out, args.seed)
    stats = dataset_stats(data)
    write_json(out / "stats.json", stats)
    print(format_stats(stats), end="")
    print(f"saved: {out / 'stats.json'}")
    return 0
