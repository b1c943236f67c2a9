# Two commands do all set-up on a fresh machine (Python 3.11+ needed):
#   make serve   install Wharf's runtime dependencies into .venv and serve an embedded Wharf on 127.0.0.1:8080
#   make test    install Wharf with its test tools into .venv and run the whole test suite
# (make test-fast: the quick tier only, see below)
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

# The tests' temporary files (pytest's tmp_path: SQLite databases, blobs, the data of each Wharf they start) go
# to /dev/shm when it is a tmpfs with at least 4 GiB free: SQLite's fsync per commit (synchronous=FULL) then
# costs nothing, where on a disk shared with PostgreSQL's checkpoints it costs the most. TMPDIR=... overrides.
TEST_TMPDIR ?= $(shell df -k --output=fstype,avail /dev/shm 2>/dev/null | awk 'NR==2 && $$1=="tmpfs" && $$2>=4194304 {print "/dev/shm"}')
TEST_ENV := $(if $(TMPDIR),,$(if $(TEST_TMPDIR),TMPDIR=$(TEST_TMPDIR)))

test: $(TEST_STAMP)
	$(TEST_ENV) $(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# the quick tier: unit, handler and contract tests on SQLite, local disk and an in-process S3 server; no system
# tests, nothing that starts processes, nothing that needs PostgreSQL or RabbitMQ (markers: pyproject.toml)
FAST_MARKERS := not system and not processes and not postgres and not rabbitmq
test-fast: $(TEST_STAMP)
	$(TEST_ENV) $(VENV)/bin/python -m pytest -m "$(FAST_MARKERS)" $(PYTEST_ARGS)

# Re-resolve the lock to the newest versions pyproject.toml allows (then run `make test` and commit both files).
# The test lock is resolved first; the runtime lock takes the same versions (-c), so serve and test agree.
lock: $(TEST_STAMP)
	$(VENV)/bin/uv pip compile pyproject.toml --extra test --universal --python-version 3.11 --upgrade \
		--quiet -o requirements/test.txt
	$(VENV)/bin/uv pip compile pyproject.toml --universal --python-version 3.11 -c requirements/test.txt \
		--quiet -o requirements/runtime.txt

.PHONY: install serve test test-fast lock
