# RegionMesh developer entry points. POSIX make (uses `!=`, POSIX.1-2024; GNU make >= 4.0 and BSD make).
#   make venv    create .venv and install the package with its [test] extra (only when pyproject.toml changes)
#   make lint    ruff + mypy
#   make test    lint, then the whole tests/ tree with pytest-xdist
#   make lab     bring up the local lab (LAB_ARGS=... to pass options)
#   make bench   run every bench/*.py
#   make clean   remove .venv, caches, .lab

.POSIX:

PYTHON != command -v python3.11 >/dev/null 2>&1 && echo python3.11 || echo python3
VENV = .venv
PYTEST_WORKERS = auto
PYTEST_ARGS =
LAB_ARGS =
LINT_DIRS = src tests bench

.PHONY: all venv lint test lab bench clean

all: test

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@echo "==> venv: $(VENV) with $(PYTHON) ($$($(PYTHON) --version 2>&1))"
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	@$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $@

lint: venv
	@echo "==> lint: ruff"
	$(VENV)/bin/ruff check $$(for d in $(LINT_DIRS); do test -d $$d && echo $$d; done)
	@echo "==> lint: mypy"
	$(VENV)/bin/mypy

test: venv lint
	@echo "==> test: pytest -n $(PYTEST_WORKERS) tests/"
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS) tests

lab: venv
	$(VENV)/bin/regionmesh lab up $(LAB_ARGS)

bench: venv
	@echo "==> bench"
	@set -e; for f in bench/*.py; do \
		test -e "$$f" || continue; \
		echo "--> $$f"; \
		$(VENV)/bin/python "$$f"; \
	done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .lab .test-pg build src/*.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
