# Two commands on a fresh machine: `make demo` and `make test`. Both install what they need.
# `make install` is the user install: the venv with the runtime only (+ Debian screen), and exprun/snakemake linked
# onto the PATH (scripts/link_commands.sh). `make dev` adds the test and lint tools and the test services (sshd,
# Slurm); check, lint, test and bench need it.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
AIDER := .venv-aider/bin/aider

.PHONY: install dev demo test check bench lint clean

install: $(STAMP)
	bash scripts/link_commands.sh $(VENV)

$(STAMP): pyproject.toml scripts/install_system_deps.sh
	bash scripts/install_system_deps.sh user
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $(STAMP)

dev: install $(DEV_STAMP)

$(DEV_STAMP): $(STAMP) pyproject.toml scripts/install_system_deps.sh
	bash scripts/install_system_deps.sh test
	$(PY) -m pip install -q -e '.[dev]'
	touch $(DEV_STAMP)

# A real coding agent (aider, its own venv) for the test of the documented codegen.command example; only the tests
# need it, so `make demo` does not install it.
$(AIDER): scripts/install_test_agent.sh
	bash scripts/install_test_agent.sh

demo: install
	bash scripts/demo.sh

# The SLURM tests share one cluster and name jobs by slug, so they run one at a time (one xdist group).
# Four test processes on any machine: most of a workflow test's time is spent waiting for a run (screen, sshd,
# SLURM), so they overlap well even on two cores (tests/conftest.py keeps each process's screen sessions apart).
TEST_PROCESSES ?= 4
test: dev $(AIDER)
	$(PY) -m pytest -q -n $(TEST_PROCESSES) --dist loadgroup $(PYTEST_ARGS)

# The one-minute loop while changing code: lint, then the unit tests of pure code (no training, no services).
check: dev
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q -m "not slow" $(PYTEST_ARGS)

lint: dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	@# Snakemake's lint, for reading: its one complaint is "a conda environment for each rule", which is on
	@# purpose (the rules run exprun's own venv; the experiment's environment is `env_activate`).
	-cd examples/wiki && ../../$(VENV)/bin/snakemake -s ../../Snakefile --lint > /dev/null 2>&1

bench: dev
	$(PY) bench/run_all.py

clean:
	rm -rf demo .pytest_cache
