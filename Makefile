# The two commands a newcomer needs: `make demo` and `make test`. Both install what they need.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV    := .venv
PY      := $(VENV)/bin/python
TIEPDAN := $(VENV)/bin/tiepdan
STAMP   := $(VENV)/.installed
# The join page script: livekit-client from npm, bundled by esbuild, served by the orchestrator.
JOIN_JS := orchestrator/web/static/join.js
# Debian packages: media tools, the local broker, speech for tests and the demo, the browser for
# the join page tests, PostgreSQL for the database tests (SQLite needs nothing).
DEBS    := ffmpeg redis-server espeak-ng chromium postgresql
SUDO    := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

# `make demo DEMO_ARGS=--exit` ends the demo when it is done instead of staying up.
DEMO_ARGS ?=

# `make soak SOAK_MINUTES=3`: the soak's length (it is not part of `make test`).
SOAK_MINUTES ?= 10

.PHONY: help setup debs livekit test demo lint down soak

help:
	@echo "make demo   run a reception session end to end on the local stack"
	@echo "make test   lint, then every test against the real local stack"
	@echo "make setup  install Debian packages, .venv, livekit-server, the join page bundle (idempotent)"
	@echo "make lint   ruff, import-linter layers, mypy"
	@echo "make soak   sessions for SOAK_MINUTES (10) under random process kills, then the invariants"
	@echo "make down   stop the local stack"

setup: debs $(STAMP) livekit $(JOIN_JS)

debs:
	@missing=$$(for p in $(DEBS); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  $(SUDO) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $$missing; \
	fi

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev,model,local-stack]'
	touch $@

livekit: $(STAMP)
	$(TIEPDAN) stack build

$(JOIN_JS): web/package-lock.json web/package.json $(wildcard web/src/*.js)
	@command -v npm >/dev/null || { echo "npm (Node.js 18 or newer) is needed to build $@"; exit 1; }
	cd web && npm ci --no-audit --no-fund && npm run build

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

test: setup lint
	$(TIEPDAN) stack up --with postgres
	@# The slowest tests are listed at the end: where the 30-minute budget goes.
	$(PY) -m pytest --durations=30 tests/unit tests/integration tests/security
	@# Alone: the demo's own orchestrator takes the port LiveKit posts its webhooks to. Before the
	@# fault suite, which leaves a LiveKit it has restarted and rooms it lost behind it.
	$(PY) -m pytest tests/e2e
	@# Alone too: its orchestrator (PostgreSQL only) takes the webhook port the integration one holds.
	$(PY) -m pytest --durations=10 tests/faults

demo: setup
	$(TIEPDAN) demo $(DEMO_ARGS)

# Not in `make test`: minutes of sessions under random kills, and the invariants
# (benchmarks/soak.py). Alone, like the demo: its orchestrator takes the webhook port.
soak: setup
	$(TIEPDAN) stack up --with postgres
	$(PY) benchmarks/soak.py --minutes $(SOAK_MINUTES)

down:
	@if [ -x $(TIEPDAN) ]; then $(TIEPDAN) stack down; fi
