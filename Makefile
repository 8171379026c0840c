# Two commands on a fresh machine: `make run` and `make test`. See README.md.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
CLIENT := clients/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml $(CLIENT)/pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test install browser lint services services-down vendor clean client-models

$(STAMP): pyproject.toml $(CLIENT)/pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m pip install --quiet -e $(CLIENT)
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)

## Start everything (embedded PostgreSQL/Redis unless DATABASE_URL/REDIS_URL are set).
run: install
	$(PY) -m zenskar.run

## Run the whole test suite against real PostgreSQL and Redis, in TEST_WORKERS processes
## (pytest-xdist; each has its own database, cache prefix and Celery queues).
TEST_WORKERS ?= 2
test: install browser
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/ruff check --quiet .
	$(VENV)/bin/mypy
	$(PY) -m zenskar.embedded exec -- $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

## Debian's Chromium for the browser tests (Playwright's own download does not work offline).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "Install Chromium: sudo apt-get install -y chromium" >&2; exit 1; fi; }

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

## The Python client's types, from the API's schema (a test fails while they are out of date).
client-models: install
	$(PY) $(CLIENT)/generate.py

## The embedded servers alone (for manage.py commands by hand): start / stop.
services: install
	$(PY) -m zenskar.embedded up
services-down: install
	$(PY) -m zenskar.embedded down

## Refresh the vendored front-end files from the npm registry.
vendor:
	rm -rf .vendor-tmp && mkdir .vendor-tmp && cd .vendor-tmp && npm pack htmx.org@2.0.11 chart.js@4.6.1 >/dev/null \
	  && tar xzf htmx.org-2.0.11.tgz && cp package/dist/htmx.min.js ../static/vendor/htmx-2.0.11.min.js && rm -rf package \
	  && tar xzf chart.js-4.6.1.tgz && cp package/dist/chart.umd.min.js ../static/vendor/chart-4.6.1.umd.min.js
	rm -rf .vendor-tmp

clean:
	$(PY) -m zenskar.embedded down || true
	rm -rf $(VENV) .data
