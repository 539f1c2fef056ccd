# Two commands for a newcomer: `make run` and `make test`. Everything else is detail.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
STAMP  := $(VENV)/.installed

.PHONY: run test setup lint format e2e-deps clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || \
	  { echo "CAROCP Forum needs Python 3.11 or newer (try: make PYTHON=python3.12 ...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0

# HOST and PORT override the address: make run PORT=8080 (or HOST=0.0.0.0 to listen on all).
run: setup
	$(BIN)/python manage.py load_demo
	@echo ""
	@echo "  CAROCP Forum is starting on http://$(HOST):$(PORT)/  (Ctrl-C stops it)"
	@echo "  Demo logins, password carocp-demo:"
	@echo "    maria, james  members"
	@echo "    dana          member of the Board members group (sees the Board Room)"
	@echo "    mod           moderator of every board"
	@echo "    admin         staff and superuser (/admin/)"
	@echo ""
	exec $(BIN)/python -m config.serve -b $(HOST) -p $(PORT) config.asgi:application

# Browser tests need Debian's chromium; install it when we can (root + apt-get).
e2e-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	    echo "Installing chromium for the browser tests..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "WARNING: /usr/bin/chromium is missing; browser tests will fail. Install Debian's chromium."; fi; \
	fi

test: $(STAMP) e2e-deps
	$(BIN)/ruff check .
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) data media staticfiles .pytest_cache
