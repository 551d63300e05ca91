# Two commands on a fresh machine: `make demo` and `make test`. Both install what they need.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
AIDER := .venv-aider/bin/aider

.PHONY: install demo test check bench lint clean

install: $(STAMP)

$(STAMP): pyproject.toml scripts/install_system_deps.sh
	bash scripts/install_system_deps.sh
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

# A real coding agent (aider, its own venv) for the test of the documented codegen.command example; only the tests
# need it, so `make demo` does not install it.
$(AIDER): scripts/install_test_agent.sh
	bash scripts/install_test_agent.sh

demo: install
	bash scripts/demo.sh

# Four test processes on any machine: most of a workflow test's time is spent waiting for a run (screen, sshd,
# SLURM), so they overlap well even on two cores (tests/conftest.py keeps each process's screen sessions apart).
TEST_PROCESSES ?= 4
test: install $(AIDER)
	$(PY) -m pytest -q -n $(TEST_PROCESSES) $(PYTEST_ARGS)

# The one-minute loop while changing code: lint, then the unit tests of pure code (no training, no services).
check: install
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q -m "not slow" $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	@# Snakemake's lint, for reading: its one complaint is "a conda environment for each rule", which is on
	@# purpose (the rules run exprun's own venv; the experiment's environment is `env_activate`).
	-cd examples/wiki && ../../$(VENV)/bin/snakemake -s ../../Snakefile --lint > /dev/null 2>&1

bench: install
	$(PY) bench/run_all.py

clean:
	rm -rf demo .pytest_cache
