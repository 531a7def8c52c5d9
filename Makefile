PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed

.PHONY: main test test-slow bench

# Create the virtual environment and install the package with its test and dask extras.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test,distributed]'
	touch $(STAMP)

# Main job: every registered experiment in quick mode, then every figure.
main: $(STAMP)
	$(VENV)/bin/ibl all --quick

# Default (fast) test tier.
test: $(STAMP)
	$(VENV)/bin/python -m pytest -q

# Long theory-vs-simulation checks.
test-slow: $(STAMP)
	$(VENV)/bin/python -m pytest -q -m slow

bench: $(STAMP)
	$(VENV)/bin/python -m bench.transfer
