# Every target does its own set-up in .venv, so a fresh clone needs nothing installed by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint format bench clean install image-check

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/dataframer-watcher demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Four workers on two cores: most tests wait on subprocesses and sockets, not the CPU.
# The browser tests need Chromium: installed from Debian's packages first where allowed.
test: lint
	scripts/install-chromium.sh
	$(BIN)/python -m pytest -q -n 4

bench: $(STAMP)
	$(BIN)/python -m bench

# Slow, needs root: builds the image with buildah on a local Debian base and checks it inside.
image-check:
	scripts/image-check.sh

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build *.egg-info
