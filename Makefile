# Set-up is part of every target: a fresh clone needs only `make check` or `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Every package set-up installs, pip and setuptools included: exact versions and sha256
# hashes, for x86_64 and aarch64 Linux. `make update-deps` rewrites it.
LOCK := requirements.lock

.PHONY: check test test-fast test-slow lint bench clean diagrams report agree kernel update-deps kernel-sources

# A changed pyproject.toml or lock builds the venv anew (--clear), so it holds exactly the
# lock: nothing left over from an older install. The lock pins pip itself; wheels only,
# so nothing is built with an unpinned backend. The project is then installed editable
# with no dependencies of its own and without build isolation, so the locked setuptools
# builds it.
$(STAMP): pyproject.toml $(LOCK)
	@command -v $(PY) >/dev/null || { echo "make: $(PY) not found (Python 3.11+ is needed)" >&2; exit 2; }
	$(PY) -m venv --clear $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --only-binary=:all: -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation --check-build-dependencies -e .
	$(BIN)/python -m pip check
	@command -v dot >/dev/null || $(INSTALL_DOT) || echo "make: note: Graphviz 'dot' not found; 'make diagrams' and 'make report' need it (apt-get install graphviz)" >&2
	@touch $(STAMP)

# The pictures need Graphviz's dot program: as root on Debian/Ubuntu, set-up installs it.
INSTALL_DOT = { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && { apt-get install -y -qq graphviz >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq graphviz >/dev/null; }; }; }

# Re-resolves the lock from pyproject.toml, with hashes: every pin to the newest release
# whose x86_64 and aarch64 Linux wheels need no newer glibc than these floors. x86_64:
# Debian 12's 2.36. aarch64: 2.38 (Debian 13, Ubuntu 24.04), as z3-solver's aarch64 wheels
# need it from 5.3 on. `make update-deps UPGRADE=` keeps the current pins where they still
# fit (e.g. after adding a dependency). The next set-up reinstalls from the new lock.
UV_VERSION := 0.13.9
X86_64_GLIBC := 2_36
AARCH64_GLIBC := 2_38
UPGRADE ?= --upgrade
update-deps:
	@command -v $(PY) >/dev/null || { echo "make: $(PY) not found (Python 3.11+ is needed)" >&2; exit 2; }
	PY=$(PY) UV_VERSION=$(UV_VERSION) LOCK=$(LOCK) X86_64_GLIBC=$(X86_64_GLIBC) AARCH64_GLIBC=$(AARCH64_GLIBC) UPGRADE=$(UPGRADE) sh tools/update-deps.sh

# The gate: every catalogue entry against its expected verdict (N = 1..3), every mutant.
check: $(STAMP)
	$(BIN)/backing-aio gate

# The suite on every core (pytest-xdist), one test file per worker at a time: the kernel
# cross-check's tests run serially (system-wide counters, the set of mounts before and
# after), and tests/test_generic.py derives each rule system once for all its checks.
# Each tier ends with a one-line summary of why tests were skipped.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
PYTEST = $(BIN)/pytest -q -n $(JOBS) --dist loadfile

test: test-fast test-slow

test-fast: $(STAMP)
	$(PYTEST) -m 'not slow'

test-slow: $(STAMP)
	$(PYTEST) -m slow

lint: $(STAMP)
	$(BIN)/ruff check backing_aio tests examples
	$(BIN)/mypy

# With the kernel's C at hand (make kernel-sources, ../shared/seed), lifting and checking it
# is timed too (bench/lift.txt).
LIFT_INPUTS = $(wildcard .cache/kernel/linux-source-6.12/fs/backing-file.c ../shared/seed/000_ada88cb21cad2e11.txt .cache/kernel/linux-source-6.1/fs/overlayfs/file.c .cache/kernel/linux-source-6.12/drivers/block/loop.c .cache/kernel/linux-source-6.12/fs/erofs/fileio.c)
# The explorer's figures beside those of the revision before its constant-factor work
# (memoised steps, no TERMINATES graph without loops, gc off): same runs, same machine.
BENCH_BASELINE ?= e90d5e9
bench: $(STAMP)
	$(BIN)/backing-aio bench --baseline $(BENCH_BASELINE) --out bench/explorer.txt --proofs bench/proofs.txt $(foreach c,$(LIFT_INPUTS),--c $(c))
	$(BIN)/backing-aio conform bench -n 100000 --backend thread --backend uring --out bench/refimpl.txt

# Explorer (N = 1..3), bounded z3, the unbounded z3 proof and hypothesis on the catalogue
# and on every mutant of the good variants: the same verdicts, or exit 1 (about an hour on
# 2 cores).
agree: $(STAMP)
	$(BIN)/backing-aio agree all --out bench/agree.txt

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis

# Lifecycle, comparison and counterexample pictures (DOT, SVG, PNG) under diagrams/;
# reproducible: a second run changes no byte. Exits 2 and says how to get dot without it.
diagrams: $(STAMP)
	$(BIN)/backing-aio diagrams all --out diagrams

# One self-contained HTML page (verdicts, mutation score, z3 proofs, pictures,
# counterexamples).
report: $(STAMP)
	$(BIN)/backing-aio report --out out/report.html --proofs

# The model against the running kernel (root, overlayfs, tracepoints; FUSE passthrough if
# available): 100,000 IOs per mode, exact counts, identities; the table in bench/kernel.txt.
# Debian's linux-source-6.1 and -6.12 (apt-get download, no installation), the few C files
# the C front-end's tests read, into .cache/kernel (ignored; the project commits no kernel
# source). The tests that need them skip, saying why, where they cannot be had.
kernel-sources:
	sh tools/kernel-sources.sh

kernel: $(STAMP)
	$(BIN)/backing-aio kernel table -n 100000 --load --out bench/kernel.txt
