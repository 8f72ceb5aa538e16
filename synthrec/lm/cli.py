"""`synthrec lm ...`: build the LM tokenizer, run one CPT trial."""

import argparse
import json
import logging

from synthrec.configtools import from_dict, load_yaml
from synthrec.errors import SynthrecError

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    lm = subparsers.add_parser("lm", help="continual pre-training (tokenizer, trial)")
    sub = lm.add_subparsers(dest="lm_command", metavar="LM_COMMAND")

    tok = sub.add_parser("tokenizer", help="build the LM tokenizer from a corpus")
    tok.add_argument("--corpus", required=True, help="RUN/corpus")
    tok.add_argument("--sids", required=True, help="RUN/sids (for the SID tokens)")
    tok.add_argument("--out", required=True, help="output folder")
    tok.add_argument("--kind", default="word", choices=["word", "bpe"])
    tok.add_argument("--max-vocab-size", type=int, help="word-level vocabulary cap")
    tok.add_argument("--bpe-vocab-size", type=int, default=4096)
    tok.add_argument("--pretrained", help="checkpoint whose tokenizer to extend")
    tok.set_defaults(func=_tokenizer)

    train = sub.add_parser("train", help="run one trial from a TrialConfig YAML")
    train.add_argument("config", help="YAML with the TrialConfig fields")
    train.add_argument("--out", help="override out_dir")
    train.set_defaults(func=_train)


def _tokenizer(args: argparse.Namespace) -> int:
    from synthrec.lm.tokenizer import build_tokenizer, training_shards
    from synthrec.sids.semantic_ids import SemanticIds

    if not args.pretrained:
        training_shards(args.corpus)  # a missing corpus is named first
    try:
        sids = SemanticIds.load(args.sids)
    except FileNotFoundError as exc:
        raise SynthrecError(f"no semantic IDs in {args.sids} ({exc})") from None
    tok = build_tokenizer(
        args.corpus,
        sids.special_tokens(),
        args.out,
        kind=args.kind,
        bpe_vocab_size=args.bpe_vocab_size,
        pretrained=args.pretrained,
        max_vocab_size=args.max_vocab_size,
    )
    print(f"tokenizer with {len(tok)} tokens written to {args.out}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from synthrec.lm.config import TrialConfig
    from synthrec.lm.trial import run_trial

    data = load_yaml(args.config)
    if args.out:
        data["out_dir"] = args.out
    result = run_trial(from_dict(TrialConfig, data))
    print(json.dumps({"final": result.final, "out_dir": result.out_dir,
                      "tokens_per_s": round(result.stats["tokens_per_s"], 1)},
                     indent=2))  # fmt: skip
    return 0
