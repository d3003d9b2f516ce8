# Onceslot: `make run` serves a demo, `make test` runs the whole suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV_VERSION := 0.13.8
UV := .tools/bin/uv
PY := .venv/bin/python
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := .venv

HOST ?= 127.0.0.1
PORT ?= 8000
# `make run` makes its links (Share panel, emails, .ics, the demo URLs) for the address it
# serves on, unless SITE_URL is set. Production (`make serve`) must set SITE_URL itself.
RUN_SITE_URL := $(or $(SITE_URL),http://$(HOST):$(PORT))

.PHONY: help install run serve worker beat test lint format bench migrate seed messages

help:
	@echo "make run    - install, migrate, seed a demo and serve on http://$(HOST):$(PORT)/"
	@echo "make test   - the whole test suite (PostgreSQL and Redis on this machine)"
	@echo "make lint   - ruff and the import direction (import-linter)"
	@echo "make messages - update the translation catalogues (locale/) from the code"
	@echo "make serve  - gunicorn on $(HOST):$(PORT) (production settings from the environment)"
	@echo "make worker / make beat - Celery worker / scheduler"
	@echo "make bench  - throughput and latency table"

$(UV):
	python3 -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# The environment is rebuilt only when the lock file or pyproject changes.
.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python python3.11
	@touch $@

# Translations: the .po files are in the repository, their compiled .mo files are built here
# (in Python, config/locale_build.py: nothing beyond the lock file is needed).
LOCALE_MO := $(patsubst %.po,%.mo,$(wildcard locale/*/LC_MESSAGES/django.po))

install: .venv/.synced $(LOCALE_MO)

locale/%/LC_MESSAGES/django.mo: locale/%/LC_MESSAGES/django.po .venv/.synced
	$(PY) -m config.locale_build

# New or changed strings in public templates and code -> the .po files (needs GNU gettext's
# xgettext, Debian's `gettext` package); translate the new entries, then `make install`.
messages: install
	DEBUG=on $(PY) manage.py makemessages -l de -l es -l fr --add-location=file \
	  --ignore=.venv --ignore=.tools --ignore=tests --ignore=bench --ignore=var \
	  --ignore='templates/admin/*'

# A development .env (DEBUG=on, a random SECRET_KEY) so that manage.py works on this machine
# after `make run` too. Written only when there is none: an existing .env is never touched.
.env:
	@printf 'DEBUG=on\nSECRET_KEY=%s\n' "$$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')" > $@
	@echo "Wrote .env for development: DEBUG=on and a random SECRET_KEY (see .env.example)."

# `make run` is the zero-setup demo: SQLite, debug pages, filesystem broker, console email,
# unless the environment or .env says otherwise.
run: export DEBUG ?= on
run: install .env
	@mkdir -p var
	$(PY) manage.py migrate --noinput
	SITE_URL=$(RUN_SITE_URL) $(PY) manage.py seed_demo
	@trap 'kill 0' EXIT; \
	  SITE_URL=$(RUN_SITE_URL) .venv/bin/celery -A config worker -B --pool=threads \
	    --concurrency=4 --loglevel=WARNING --schedule var/celerybeat-schedule & \
	  SITE_URL=$(RUN_SITE_URL) $(PY) manage.py runserver $(HOST):$(PORT)

serve: install
	$(PY) manage.py collectstatic --noinput
	.venv/bin/gunicorn config.wsgi:application --bind $(HOST):$(PORT) \
	  --workers $${WEB_CONCURRENCY:-3} --access-logfile -

worker: install
	.venv/bin/celery -A config worker --loglevel=INFO

beat: install
	@mkdir -p var
	.venv/bin/celery -A config beat --loglevel=INFO --schedule var/celerybeat-schedule

migrate: install
	$(PY) manage.py migrate --noinput

seed: install
	$(PY) manage.py seed_demo

test: install
	.venv/bin/pytest $(PYTEST_ARGS)

lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/lint-imports

format: install
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

bench: install
	$(PY) -m bench $(BENCH_ARGS)
