# Every target sets up what it needs: a fresh machine with Python 3.11+ is enough.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: test demo bench screenshots lint clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@# -qq: errors only (--quiet still shows setuptools' 9-line note on editable installs)
	$(BIN)/python -m pip install -qq -e '.[test,screenshots]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider -n 2

demo: $(STAMP)
	$(BIN)/mydb-tui --demo .demo_db

bench: $(STAMP)
	$(BIN)/python bench/run.py
	$(BIN)/python bench/records_scale.py
	$(BIN)/python bench/history_scale.py
	$(BIN)/python bench/queries_bench.py
	$(BIN)/python bench/durable.py
	$(BIN)/python bench/s3_bench.py
	$(BIN)/python bench/cas_fairness.py
	$(BIN)/python bench/tui_bench.py

screenshots: $(STAMP)
	$(BIN)/python screenshots/make.py

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf build dist *.egg-info engine/*.egg-info .pytest_cache .hypothesis .ruff_cache
	find . -name __pycache__ -type d -not -path './.venv/*' -prune -exec rm -rf {} +
