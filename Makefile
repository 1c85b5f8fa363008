# Phonetree: `make run` serves the app with a demo org; `make test` runs every suite.
VENV ?= .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app app
export PHONETREE_INSTANCE_PATH ?= $(CURDIR)/instance
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: run test install install-dev chromium test-sqlite test-postgres lint bench twilio-fake

$(VENV)/.installed: requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## run: install, migrate, seed the demo org/user/flow and serve on http://127.0.0.1:5000 with the
## background worker beside it (timers, number changes); Ctrl-C stops both
run: install
	$(FLASK) db upgrade
	$(FLASK) seed-demo
	$(FLASK) serve --host 127.0.0.1 --port 5000

## chromium: Debian's Chromium for the browser tests (installed with apt when missing and root)
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing Chromium with apt..."; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "*** Chromium is missing and cannot be installed here: browser tests will skip (CI=true fails)."; fi

## test: every suite: SQLite (all tests, browser included), then the database tests again on PostgreSQL
test: install-dev chromium test-sqlite test-postgres

test-sqlite:
	$(PY) -m pytest -q

test-postgres:
	@if $(PY) -c "import sys, sqlalchemy as sa; sa.create_engine(sys.argv[1], connect_args={'connect_timeout': 3}).connect().close()" "$(PG_TEST_URL)" 2>/dev/null; then \
	  TEST_DATABASE_URL="$(PG_TEST_URL)" $(PY) -m pytest -q -m "db and not browser"; \
	elif [ "$$CI" = "true" ]; then echo "CI=true and PostgreSQL is unreachable at $(PG_TEST_URL)"; exit 1; \
	else echo "*** SKIPPING the PostgreSQL suite: no server at $(PG_TEST_URL) ***"; fi

lint: install-dev
	$(VENV)/bin/ruff check .

bench: install-dev
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

twilio-fake: install
	$(FLASK) twilio-fake
