# Set-up is part of every target: a fresh clone needs only `make check` or `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: check test test-fast test-slow lint bench clean diagrams report agree kernel

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null || { echo "make: $(PY) not found (Python 3.11+ is needed)" >&2; exit 2; }
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@command -v dot >/dev/null || $(INSTALL_DOT) || echo "make: note: Graphviz 'dot' not found; 'make diagrams' and 'make report' need it (apt-get install graphviz)" >&2
	@touch $(STAMP)

# The pictures need Graphviz's dot program: as root on Debian/Ubuntu, set-up installs it.
INSTALL_DOT = { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && { apt-get install -y -qq graphviz >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq graphviz >/dev/null; }; }; }

# The gate: every catalogue entry against its expected verdict (N = 1..3), every mutant.
check: $(STAMP)
	$(BIN)/backing-aio gate

test: $(STAMP)
	$(BIN)/pytest -q -m 'not slow'
	$(BIN)/pytest -q -m slow

lint: $(STAMP)
	$(BIN)/ruff check model checks refimpl kernelcheck tests examples
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m checks.bench --out bench/explorer.txt --proofs bench/proofs.txt
	$(BIN)/python -m checks.conformance bench -n 100000 --backend thread --backend uring --out bench/refimpl.txt

# Explorer (N = 1..3), bounded z3, the unbounded z3 proof and hypothesis on the catalogue
# and on every mutant of the good variants: the same verdicts, or exit 1 (about an hour on
# 2 cores).
agree: $(STAMP)
	$(BIN)/python -m checks.agree all --out bench/agree.txt

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis

# Lifecycle, comparison and counterexample pictures (DOT, SVG, PNG) under diagrams/;
# reproducible: a second run changes no byte. Exits 2 and says how to get dot without it.
diagrams: $(STAMP)
	$(BIN)/python -m checks.diagrams all --out diagrams

# One self-contained HTML page (verdicts, mutation score, z3 proofs, pictures,
# counterexamples).
report: $(STAMP)
	$(BIN)/python -m checks.report --out out/report.html --proofs

# The model against the running kernel (root, overlayfs, tracepoints; FUSE passthrough if
# available): 100,000 IOs per mode, exact counts, identities; the table in bench/kernel.txt.
kernel: $(STAMP)
	$(BIN)/python -m kernelcheck table -n 100000 --load --out bench/kernel.txt
