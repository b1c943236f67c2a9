# Two commands do all set-up on a fresh machine (Python 3.11+ needed):
#   make serve   install Wharf's runtime dependencies into .venv and serve an embedded Wharf on 127.0.0.1:8080
#   make test    install Wharf with its test tools into .venv and run the whole test suite
# Both install exactly the versions of requirements/*.txt (the lock); `make lock` upgrades the lock on purpose.
PYTHON ?= python3
VENV ?= .venv
PORT ?= 8080
DATA ?=
PIP_VERSION := 26.3
RUNTIME_STAMP := $(VENV)/.installed-runtime
TEST_STAMP := $(VENV)/.installed-test

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet 'pip==$(PIP_VERSION)'

# runtime only (make serve): the versions of requirements/runtime.txt
$(RUNTIME_STAMP): pyproject.toml requirements/runtime.txt | $(VENV)/bin/python
	$(VENV)/bin/python -m pip install --quiet -c requirements/runtime.txt -e .
	touch $(RUNTIME_STAMP)

# runtime and test tools (make test): the versions of requirements/test.txt, a superset of runtime.txt
$(TEST_STAMP): pyproject.toml requirements/test.txt | $(VENV)/bin/python
	$(VENV)/bin/python -m pip install --quiet -c requirements/test.txt -e '.[test]'
	touch $(TEST_STAMP) $(RUNTIME_STAMP)

install: $(RUNTIME_STAMP)

serve: $(RUNTIME_STAMP)
	$(VENV)/bin/wharf serve --host 127.0.0.1 --port $(PORT) $(if $(DATA),--data $(DATA))

test: $(TEST_STAMP)
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# Re-resolve the lock to the newest versions pyproject.toml allows (then run `make test` and commit both files).
# The test lock is resolved first; the runtime lock takes the same versions (-c), so serve and test agree.
lock: $(TEST_STAMP)
	$(VENV)/bin/uv pip compile pyproject.toml --extra test --universal --python-version 3.11 --upgrade \
		--quiet -o requirements/test.txt
	$(VENV)/bin/uv pip compile pyproject.toml --universal --python-version 3.11 -c requirements/test.txt \
		--quiet -o requirements/runtime.txt

.PHONY: install serve test lock
