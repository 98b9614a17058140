# Everything a newcomer types: `make run` to chat, `make test` to check it all.
# `make help` lists the targets with their one-line purpose.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      := .venv
PY        := $(VENV)/bin/python
RASA      := $(VENV)/bin/rasa
STAMP     := $(VENV)/.installed
NATIVE    := $(VENV)/address-native/sources.json
MODEL     := models/current.tar.gz
SCRIPT    := domain.yml config.yml $(shell find data -name '*.yml' 2>/dev/null) $(wildcard nlu_components/*.py)

# Rasa phones home and prints TensorFlow noise unless told otherwise.
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL   := 3
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

$(STAMP): requirements.txt constraints.txt
	@test -x $(PY) || "$$(scripts/find-python310.sh)" -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade 'pip>=24' 'wheel==0.45.1' 'setuptools<71'
	$(PY) -m pip install --quiet -r requirements.txt -c constraints.txt
	@touch $@

# The address resolver's core compiled with mypyc into .venv (bot/address/_native.py);
# without it, or after an edit of its sources, the same code runs as pure Python.
$(NATIVE): $(STAMP) bot/address/data.py bot/address/resolver.py bot/address/build.py
	BOT_ADDRESS_PURE=1 $(PY) -m bot.address.build || echo "address resolver not compiled: pure Python in use"

.PHONY: install
install: $(STAMP) $(NATIVE) ## create .venv (Python 3.10), install the pinned dependencies, compile the address resolver

.PHONY: lock
lock: $(STAMP) ## rewrite constraints.txt from what is installed
	$(PY) -m pip freeze --exclude-editable | grep -v -i -E '^(pip|setuptools|wheel)==' > constraints.txt

$(MODEL): $(STAMP) $(SCRIPT)
	$(RASA) train --fixed-model-name current --out models --quiet

.PHONY: train
train: $(MODEL) ## train the model if the script changed since the last one

.PHONY: migrate
migrate: $(STAMP) ## bring the request store schema up to date
	$(PY) -m bot db upgrade

# PostgreSQL and Redis tests use real servers on loopback (see scripts/services.sh).
export TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/test
export TEST_REDIS_URL    ?= redis://127.0.0.1:6379/0

.PHONY: services
services: ## start PostgreSQL and Redis on loopback if they are down (tests use them)
	@scripts/services.sh

# Browser tests drive Debian's Chromium through Playwright (never `playwright install`).
.PHONY: chromium
chromium: ## install Debian's chromium for the browser tests if it is missing (needs root)
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing chromium (Debian package) for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

.PHONY: lint
lint: $(STAMP) ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

.PHONY: validate
validate: $(STAMP) ## rasa data validate, warnings are errors
	$(RASA) data validate --fail-on-warnings --quiet

# One pytest worker per core (at most four): most of the suite's time is Rasa servers
# loading the model (about a minute each on 2 slow cores), which overlap. A module stays on
# one worker (`loadscope`), so a module's server or model is loaded once.
PYTEST_WORKERS ?= auto

.PHONY: pytest
pytest: $(STAMP) $(NATIVE) $(MODEL) services chromium ## unit, connector and server tests (uses the trained model)
	$(PY) -m pytest -n $(PYTEST_WORKERS) --maxprocesses 4 --dist loadscope

.PHONY: test-stories
test-stories: $(MODEL) ## conversation tests in tests/test_stories.yml
	$(RASA) test core --model $(MODEL) --stories tests/test_stories.yml \
	  --fail-on-prediction-errors --out results --no-plot

.PHONY: test
test: lint check-script train pytest test-stories ## everything CI runs

.PHONY: run
run: $(STAMP) $(MODEL) ## start the bot, action server and team console on embedded defaults
	$(PY) -m bot run

.PHONY: bench-nlu
bench-nlu: $(STAMP) ## 5-fold intent accuracy with and without diacritics
	$(PY) bench/nlu.py

.PHONY: check-script
check-script: $(STAMP) ## CSKH: check the chat script, invitation templates and staff guides, and rasa data validate
	@status=0; \
	$(PY) -m bot.scriptlint || status=1; \
	$(PY) -m bot campaign check-templates || status=1; \
	$(RASA) data validate --fail-on-warnings --quiet || status=1; \
	exit $$status

.PHONY: publish
publish: $(STAMP) ## CSKH: check, train, test, then load the script into the running bot (no restart)
	$(PY) -m bot publish

.PHONY: rollback
rollback: $(STAMP) ## CSKH: put the previously published model back in service
	$(PY) -m bot rollback

.PHONY: bench-publish
bench-publish: $(STAMP) ## time from a script edit to live under load (works on a copy)
	$(PY) bench/publish.py

.PHONY: bench-train
bench-train: $(STAMP) ## wall time and peak memory of `rasa train`, cold and warm cache
	$(PY) bench/train.py

.PHONY: clean
clean: ## remove models, results and local databases (keeps .venv and the training cache)
	rm -rf models results var/*.db
