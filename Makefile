# Every target sets up what it needs: a fresh machine with Python 3.11+ is enough.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_STAMP := $(VENV)/.installed-demo-stamp
TEST_EXTRAS := test,screenshots

.PHONY: test demo bench screenshots lint clean

# $(call install,EXTRAS): the venv (made if missing), then the project with EXTRAS, editable
define install
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@# -qq: errors only (--quiet still shows setuptools' 9-line note on editable installs)
	$(BIN)/python -m pip install -qq -e '.[$(1)]'
endef

# tests, lint, benchmarks, screenshots: the test tools (the [test] extra includes [tui] and [s3])
$(STAMP): pyproject.toml
	$(call install,$(TEST_EXTRAS))
	touch $(STAMP)

# the demo: only what mydb-tui needs
$(DEMO_STAMP): pyproject.toml
	$(call install,tui)
	touch $(DEMO_STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider -n 2

demo: $(DEMO_STAMP)
	$(BIN)/mydb-tui --demo .demo_db

bench: $(STAMP)
	$(BIN)/python bench/run.py
	$(BIN)/python bench/records_scale.py
	$(BIN)/python bench/history_scale.py
	$(BIN)/python bench/version_lookup.py
	$(BIN)/python bench/queries_bench.py
	$(BIN)/python bench/durable.py
	$(BIN)/python bench/s3_bench.py
	$(BIN)/python bench/cas_fairness.py
	$(BIN)/python bench/tui_bench.py

screenshots: $(STAMP)
	$(BIN)/python screenshots/make.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache --no-logo

clean:
	rm -rf build dist *.egg-info engine/*.egg-info .pytest_cache .hypothesis .ruff_cache
	find . -name __pycache__ -type d -not -path './.venv/*' -prune -exec rm -rf {} +
