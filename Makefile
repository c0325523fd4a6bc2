# Set-up is part of every target: a fresh clone needs only `make check` or `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: check test test-fast test-slow lint bench clean

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null || { echo "make: $(PY) not found (Python 3.11+ is needed)" >&2; exit 2; }
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# The gate: every catalogue entry against its expected verdict (N = 1..3), every mutant.
check: $(STAMP)
	$(BIN)/backing-aio gate

test: $(STAMP)
	$(BIN)/pytest -q -m 'not slow'
	$(BIN)/pytest -q -m slow

lint: $(STAMP)
	$(BIN)/ruff check model checks tests
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m checks.bench --out bench/explorer.txt

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
