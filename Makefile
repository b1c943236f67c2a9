# Two commands do all set-up on a fresh machine (Python 3.11+ needed):
#   make serve   install into .venv, create a demo-less embedded Wharf and serve it on 127.0.0.1:8080
#   make test    install into .venv (with test extras) and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
PORT ?= 8080
DATA ?= ./data
STAMP := $(VENV)/.installed

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

serve: $(STAMP)
	$(VENV)/bin/wharf serve --host 127.0.0.1 --port $(PORT) --data $(DATA)

test: $(STAMP)
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

.PHONY: install serve test
