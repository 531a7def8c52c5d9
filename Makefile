PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed

.PHONY: main test test-slow bench paper

# Create the virtual environment and install the package with its test and dask extras.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test,distributed]'
	touch $(STAMP)

# Main job: every registered experiment in quick mode, then every figure, the claims table and the paper's numbers (not the PDF: make paper).
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

# The manuscript's PDF (paper/main.pdf) from paper/generated/ and paper/figures/, which `make main` writes.
# Needs TeX Live and latexmk (Debian: apt-get install latexmk texlive-latex-recommended texlive-latex-extra).
paper:
	@test -f paper/generated/numbers.tex || { echo "paper/generated/numbers.tex is missing: run make main (or ibl paper) first"; exit 1; }
	cd paper && latexmk -pdf -interaction=nonstopmode -halt-on-error -file-line-error main.tex
