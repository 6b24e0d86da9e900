# Maratron — `make run` starts everything, `make test` runs every suite.
# uv is bootstrapped with pip when missing; it is invoked as `python3 -m uv` when the pip
# install did not put it on PATH.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PY ?= python3
UV = $(shell command -v uv 2>/dev/null || echo "$(PY) -m uv")
RUN = $(UV) run --frozen

.PHONY: help uv install run test test-integration bench lint fmt

help:
	@echo "make run      start the stack, every service and a gateway (prints MCP URL + token)"
	@echo "make test     install, then run every test suite"
	@echo "make bench    run the benchmarks (bench/bench_*.py)"
	@echo "make lint     ruff check, ruff format --check, mypy"

uv:
	@command -v uv >/dev/null 2>&1 || $(PY) -m uv --version >/dev/null 2>&1 || { \
	  echo "installing uv with pip"; \
	  $(PY) -m pip install --quiet --disable-pip-version-check uv \
	  || $(PY) -m pip install --quiet --disable-pip-version-check --user uv \
	  || $(PY) -m pip install --quiet --disable-pip-version-check --break-system-packages uv; }

install: uv
	@$(UV) sync --frozen --all-packages --quiet

run: install
	@$(RUN) maratron up

# pytest exits 5 when it collects nothing: not a failure here.
# Two xdist workers (the machines have 2 cores), each with its own embedded stack; tests that
# share an expensive fixture (a cluster of processes, a module's service) run on one worker
# (maratron_testing.parallel). TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= 2
test: install
	@$(RUN) pytest -n $(TEST_WORKERS) --dist loadgroup --durations=15 || { code=$$?; [ $$code -eq 5 ] && echo "no tests collected"; [ $$code -eq 5 ]; }

test-integration: install
	@$(RUN) pytest -m integration || { code=$$?; [ $$code -eq 5 ] && echo "no tests collected"; [ $$code -eq 5 ]; }

bench: install
	@$(RUN) python bench/run_all.py

# All three run even when one fails, so one pass shows every problem.
lint: install
	@status=0; \
	$(RUN) ruff check . || status=1; \
	$(RUN) ruff format --check . || status=1; \
	$(RUN) mypy libs services bench || status=1; \
	exit $$status

fmt: install
	@$(RUN) ruff format .
	@$(RUN) ruff check --fix .
