"""Benchmarks: speed and memory against a named baseline, printed as ratios.

Run one with `python -m synthrec.bench NAME` or all with `python -m synthrec.bench all`.
Each module `synthrec/bench/<name>.py` has `main(argv: list[str]) -> int`.
"""
