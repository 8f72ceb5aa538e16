# Two entry points: `make run` (the main job on real MovieLens) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= sweeps/local.yaml
# Real data lives outside the repository (see README: Data).
export SYNTHREC_DATA_HOME ?= $(abspath ../shared/data)
# DeepSpeed compiles CPU ops on first use; keep them between runs.
export TORCH_EXTENSIONS_DIR ?= $(abspath .cache/torch_extensions)

.PHONY: run test smoke lint bench clean-venv

$(BIN)/synthrec: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first and pinned: this version has a local CPU wheel.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(BIN)/synthrec

run: $(BIN)/synthrec
	$(BIN)/synthrec run $(CONFIG)

smoke: $(BIN)/synthrec
	$(BIN)/synthrec run sweeps/smoke.yaml --out runs/smoke

test: $(BIN)/synthrec
	$(BIN)/python -m pytest -q tests; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 1; fi; exit $$rc

lint: $(BIN)/synthrec
	$(BIN)/ruff check synthrec tests
	$(BIN)/ruff format --check synthrec tests

bench: $(BIN)/synthrec
	$(BIN)/python -m synthrec.bench all

clean-venv:
	rm -rf $(VENV)
