# camcare: `make run` serves the portal with a demo account; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
PYTEST_WORKERS ?= 2

.PHONY: run serve test test-fast test-e2e lint check-deploy openapi browser clean

$(STAMP): pyproject.toml
	@scripts/check-python "$(PYTHON)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

run: $(STAMP)
	$(BIN)/python manage.py migrate --no-input
	CAMCARE_TEST_CLOCKS=1 $(BIN)/python manage.py seed_demo
	CAMCARE_TEST_CLOCKS=1 $(BIN)/python manage.py runserver 127.0.0.1:8000

# The production server: collectstatic, migrate, then gunicorn (README "Deploying").
serve: $(STAMP)
	scripts/serve

# The whole suite, browser tests included. pytest's "no tests ran" (exit 5) fails too.
test: $(STAMP) browser
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -q
	$(MAKE) --no-print-directory check-deploy

test-fast: $(STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -q -m "not e2e"

test-e2e: $(STAMP) browser
	$(BIN)/python -m pytest -q -m e2e

# Debian's Chromium for the browser tests (Playwright cannot download its own here).
browser:
	@scripts/ensure-chromium

check-deploy: $(STAMP)
	CAMCARE_PRODUCTION=1 CAMCARE_SECRET_KEY=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))') \
	  CAMCARE_ALLOWED_HOSTS=camcare.example $(BIN)/python manage.py check --deploy --fail-level WARNING

lint: $(STAMP)
	$(BIN)/ruff check camcare tests bench
	$(BIN)/mypy

# schemathesis over the served OpenAPI document as a signed-in owner (about 3 minutes).
fuzz: $(STAMP)
	scripts/fuzz-api

# locust, 100 simulated owners against make serve's gunicorn; prints the figures.
loadtest: $(STAMP)
	$(BIN)/python bench/load.py

# mutmut over camcare/domain with the domain tests; prints the kill ratio.
mutation: $(STAMP)
	scripts/mutation

openapi: $(STAMP)
	$(BIN)/python manage.py export_openapi

clean:
	rm -rf $(VENV) var staticfiles test-artifacts
