# The two commands a newcomer needs: `make demo` and `make test`.
# Both create .venv on first use with the Python found as $(PYTHON).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-test
DEMO_ARGS ?=

.PHONY: demo test lint typecheck pytest clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall when the dependency list changes; the package itself is editable.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/entra-monitor demo $(DEMO_ARGS)

# Tools some tests need beyond the Python packages (a browser, a storage emulator, scanners) are
# installed by the files in mk/, each adding its target to TEST_TOOLS.
TEST_TOOLS :=
include $(sort $(wildcard mk/*.mk))

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) $(TEST_TOOLS)
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist .demo .emulator .artifacts .tmp tools/azurite/node_modules
