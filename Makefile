# Two entry points: `make run` (the app on the embedded model) and `make test` (everything CI runs).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint install system-deps bench

$(STAMP): pyproject.toml scripts/install_llama.sh
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# CPU torch first: a bare torch requirement would pull a multi-GB CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	# llama-cpp-python from a portable build: a native one crashes on AMX CPUs (see script).
	bash scripts/install_llama.sh $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/streamlit run app.py

system-deps:
	bash scripts/system_deps.sh

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Browser tests run in their own pytest process (see addopts in pyproject.toml).
test: install system-deps lint
	$(PY) -m pytest -ra
	$(PY) -m pytest -ra -m e2e tests/e2e

bench: install
	for script in bench/*.py; do $(PY) $$script || exit 1; done
