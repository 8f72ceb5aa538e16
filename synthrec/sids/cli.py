"""`synthrec sids fit CONFIG --out DIR` and `synthrec sids report DIR [DIR ...]`."""

import argparse
import logging
from pathlib import Path
from typing import Any

from synthrec.errors import SynthrecError

log = logging.getLogger(__name__)

TABLE_FILE = "report.md"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "sids", help="semantic IDs: fit a tokeniser, show its report"
    )
    commands = parser.add_subparsers(dest="sids_command", metavar="SIDS_COMMAND")

    fit = commands.add_parser(
        "fit",
        help="prepare the data into OUT/data (reused when unchanged), fit OUT/sids",
    )
    fit.add_argument(
        "config", help="run config YAML (its data, sids and seed are used)"
    )
    fit.add_argument("--out", required=True, help="run folder: OUT/data, OUT/sids")
    fit.add_argument("--method", default=None, help="override sids.method")
    fit.set_defaults(func=_fit)

    report = commands.add_parser(
        "report", help="print the quality table of one or more fitted SID folders"
    )
    report.add_argument("dirs", nargs="+", help="a sids folder or a run folder")
    report.add_argument("--json", action="store_true", help="print the JSON instead")
    report.set_defaults(func=_report)
    parser.set_defaults(func=lambda _args: parser.print_help() or 2)


def _fit(args: argparse.Namespace) -> int:
    from synthrec.config import load_config
    from synthrec.pipeline import prepare_data
    from synthrec.sids import fit_semantic_ids
    from synthrec.sids.report import format_table
    from synthrec.synth import training_sequences

    overrides = {"sids": {"method": args.method}} if args.method else None
    cfg = load_config(args.config, overrides)
    out = Path(args.out)
    prepared = prepare_data(cfg, out)
    sids = fit_semantic_ids(
        prepared.items,
        prepared.train_item_idx(),
        cfg.sids,
        cfg.seed,
        # Users held out for uih_real stay unseen here too, as in `synthrec run`.
        train_sequences=training_sequences(prepared, cfg.synth, cfg.seed),
    )
    sids_dir = out / "sids"
    sids.save(sids_dir)
    table = format_table({cfg.sids.method: sids.report})
    _write_table(sids_dir / TABLE_FILE, table)
    print(table)
    print(f"semantic IDs: {sids_dir}")
    return 0


def _report(args: argparse.Namespace) -> int:
    import json

    from synthrec.sids.report import format_table

    reports = {}
    for raw in args.dirs:
        name, report = _load_report(Path(raw))
        reports[_unique_name(name, reports)] = report
    if args.json:
        print(json.dumps(reports, indent=2, sort_keys=True))
    else:
        print(format_table(reports))
    return 0


def _load_report(path: Path) -> tuple[str, dict[str, Any]]:
    from synthrec.io import read_json
    from synthrec.sids.semantic_ids import REPORT_FILE

    for candidate in (path / REPORT_FILE, path / "sids" / REPORT_FILE):
        if candidate.is_file():
            report = read_json(candidate)
            return str(report.get("method", path.name)), report
    raise SynthrecError(
        f"no semantic-ID report in {path} (looked for {REPORT_FILE} "
        "there and in its sids/ folder); run `synthrec sids fit` first"
    )


def _unique_name(name: str, taken: dict[str, Any]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name} ({n})", n + 1
    return candidate


def _write_table(path: Path, table: str) -> None:
    from synthrec.io import write_text

    write_text(path, table + "\n")
