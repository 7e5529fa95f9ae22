# Two entry points (see README): `make demo` and `make test`. Both set up .venv first.
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test lint chromium bench-smpp screenshots

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

# tests/postgres.sh: the PostgreSQL on 127.0.0.1:5432, or one it starts (installed if need be).
# TEST_WORKERS test processes at once (pytest-xdist), each with a database of its own: many tests
# wait on a gateway, the simulator or Chromium, so more processes than cores pay; `make test
# TEST_WORKERS=0` runs them in this one process
TEST_WORKERS ?= 3
# the console tests' screenshots (every screen they reach) are kept here, a run's artefacts
ARTEFACTS ?= artefacts/console
test: lint chromium $(BIN)/promtool
	rm -rf $(ARTEFACTS)
	SMSGW_ARTEFACTS=$(ARTEFACTS) \
	SMSGW_TEST_POSTGRES=$$(PYTHON=$(BIN)/python sh tests/postgres.sh) $(BIN)/pytest \
	  -n $(TEST_WORKERS) --dist worksteal

# tests/console drive Debian's headless Chromium through Playwright (which never downloads one)
chromium:
	test -x /usr/bin/chromium || (apt-get update && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium)

# tests/smsgw/api/test_deploy_files.py checks the alert rules with promtool: taken from Debian's
# prometheus package without installing it (no server started, no root needed once apt knows it)
$(BIN)/promtool: | $(STAMP)
	rm -rf $(VENV)/promtool.deb.d && mkdir $(VENV)/promtool.deb.d
	cd $(VENV)/promtool.deb.d && (apt-get download prometheus 2>/dev/null || \
	  (apt-get update && apt-get download prometheus)) && dpkg -x prometheus_*.deb root
	cp $(VENV)/promtool.deb.d/root/usr/bin/promtool $@ && rm -rf $(VENV)/promtool.deb.d

# the README's screenshots of the console (docs/screenshots/), from its accessibility walk
screenshots: $(STAMP) chromium
	mkdir -p docs/screenshots
	SMSGW_SCREENSHOTS=docs/screenshots $(BIN)/pytest tests/console/test_accessibility.py \
	  -k "officer or operator or spanish"

bench-smpp: $(STAMP)
	$(BIN)/python bench/smpp_throughput.py
