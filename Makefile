# GroupOps — the two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA ?= groupops-data
MEMBERS ?= 1500
DAYS ?= 60
SEED ?= 11
PYTEST_ARGS ?=

.PHONY: demo test install dev lint typecheck format serve bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed  ## create the virtualenv and install GroupOps

dev: $(VENV)/.dev-installed  ## install GroupOps with the test and lint tools

demo: install  ## generate the demo brand, import it, analyse it and serve the dashboard
	$(BIN)/groupops demo --data $(DATA) --members $(MEMBERS) --days $(DAYS) --seed $(SEED)
	$(BIN)/groupops serve --data $(DATA) --host 127.0.0.1 --port 8000

lint: dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: dev
	$(BIN)/mypy

format: dev
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

test: lint typecheck  ## lint, type-check and run the whole suite
	$(BIN)/python -m pytest -n 2 --dist loadfile -q $(PYTEST_ARGS)

serve: install
	$(BIN)/groupops serve --data $(DATA)

bench: dev
	for script in benchmarks/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
