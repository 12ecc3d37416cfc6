# The two commands of the README: `make run` and `make test`. Everything else is a helper.
# Only Python 3.11+, git and make are needed: the virtualenv, the embedded PostgreSQL
# and the Python packages are all installed from this repository's own files.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEVSERVER := $(PY) -m config.devserver

.PHONY: run test bench lint format messages system-packages clean help

help:
	@echo "make run    - install, start the database, migrate, seed the demo, serve http://demo.localhost:8000"
	@echo "make test   - the whole test suite (installs chromium and redis-server when root)"
	@echo "make bench  - benchmarks (make bench NAME=provisioning for one)"
	@echo "make lint   - ruff check and ruff format --check"

# The virtualenv is rebuilt only when a requirements file changes.
$(STAMP): requirements/base.txt requirements/dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Relais needs Python 3.11 or newer (found %s)" % sys.version.split()[0])'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements/dev.txt
	@touch $(STAMP)

run: $(STAMP)
	@$(DEVSERVER) run

test: $(STAMP) system-packages
	@$(DEVSERVER) exec -- $(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	@$(DEVSERVER) exec -- $(PY) -m bench $(NAME)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Re-extract and compile the French catalogue (needs GNU gettext: apt-get install gettext).
messages: $(STAMP)
	$(PY) manage.py makemessages --locale fr --ignore '.venv/*' --ignore 'tests/*' --ignore 'bench/*'
	$(PY) manage.py compilemessages --locale fr --ignore '.venv/*'

# Browser tests need Debian's chromium; the multi-process chat tests need redis-server.
# Installed here when missing and we are root (as in CI); otherwise those tests skip
# with a line that says what to install.
system-packages:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "Installing system packages:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else \
			echo "Not root: skipping the install of$$missing (the tests that need them will skip)"; \
		fi; \
	fi

clean:
	rm -rf $(VENV) staticfiles
