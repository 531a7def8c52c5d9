PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed

.PHONY: main test test-slow bench paper claims claims-store

# Create the virtual environment and install the package with its test and dask extras.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test,distributed]'
	touch $(STAMP)

# Main job: every registered experiment in quick mode, then every figure, the claims table and the paper's numbers (not the PDF: make paper).
# Writes only git-ignored files (results/, paper/figures/, paper/numbers/, paper/generated/): a clone stays clean.
main: $(STAMP)
	$(VENV)/bin/ibl all --quick

# Maintainer: re-render the committed claims tables (paper/claims/*) and the README's claims block from a store
# of full-mode runs, e.g. make claims STORE=/path/to/fullstore. Review and commit the result.
claims: claims-store $(STAMP)
	$(VENV)/bin/ibl claims --store "$(STORE)" --outdir paper/claims --readme README.md

claims-store:
	@test -n "$(STORE)" || { echo "make claims needs STORE=DIR, a store of full-mode runs (ibl run NAME --store DIR)"; exit 1; }
	@test -d "$(STORE)" || { echo "make claims: STORE=$(STORE) is not a folder"; exit 1; }

# Default (fast) test tier.
test: $(STAMP)
	$(VENV)/bin/python -m pytest -q

# Long theory-vs-simulation checks.
test-slow: $(STAMP)
	$(VENV)/bin/python -m pytest -q -m slow

bench: $(STAMP)
	$(VENV)/bin/python -m bench.transfer

# The manuscript's PDF (paper/main.pdf) from paper/generated/ and paper/figures/, which `make main` writes:
# its numbers and its claims table (paper/generated/claims/) come from one store, the one `ibl paper` last read.
# Needs TeX Live and latexmk (Debian: apt-get install latexmk texlive-latex-recommended texlive-latex-extra).
paper:
	@test -f paper/generated/numbers.tex || { echo "paper/generated/numbers.tex is missing: run make main (or ibl paper) first"; exit 1; }
	@test -f paper/generated/claims/claims.tex || { echo "paper/generated/claims/claims.tex is missing: run ibl paper (or make main) first"; exit 1; }
	cd paper && latexmk -pdf -interaction=nonstopmode -halt-on-error -file-line-error main.tex
