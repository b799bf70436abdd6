# The two commands of the README: `make run` (the local shell) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Test processes: two more than the cores (a share of every test waits on a subprocess,
# a socket or a database), e.g. 4 on a 2-core machine; `make test WORKERS=1` runs serially.
WORKERS ?= $(shell $(PYTHON) -c 'import os; print((os.cpu_count() or 1) + 2)')

.PHONY: run test lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/parley shell $(ARGS)

test: $(STAMP)
	$(BIN)/ruff check bot handlers storage tests bench
	$(BIN)/mypy bot handlers storage
	$(BIN)/lint-imports --no-cache
	$(BIN)/pytest -q -n $(WORKERS)

lint: $(STAMP)
	$(BIN)/ruff check bot handlers storage tests bench
	$(BIN)/mypy bot handlers storage
	$(BIN)/lint-imports --no-cache

# SPEC §8's benchmarks (about 15 minutes on a busy 2-core machine); `make bench ARGS=digest`
# runs one, `PARLEY_BENCH_DATABASES=sqlite make bench` one database.
.PHONY: bench
bench: $(STAMP)
	$(BIN)/python -m bench $(ARGS)

clean:
	rm -rf $(VENV) build *.egg-info
