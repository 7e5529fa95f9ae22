# Two entry points (see README): `make demo` and `make test`. Both set up .venv first.
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test lint chromium bench-smpp

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $@

demo: $(STAMP)
	$(BIN)/smsgw demo

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy channels smsgw subscriptions tests bench

test: lint chromium
	$(BIN)/pytest

# tests/console drive Debian's headless Chromium through Playwright (which never downloads one)
chromium:
	test -x /usr/bin/chromium || (apt-get update && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium)

bench-smpp: $(STAMP)
	$(BIN)/python bench/smpp_throughput.py
