# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
DEMO := $(PY) example_site/manage.py

.PHONY: demo test install lint docs screenshots clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=25.1"
	$(PY) -m pip install --quiet -e ".[postgres,redis,sms,push]" --group dev
	touch $@

install: $(VENV)/.installed

demo: install
	$(DEMO) migrate --noinput
	$(DEMO) load_demo_data
	$(DEMO) rundemo

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .

# The documentation site, warnings as errors (docs/, mkdocs.yml); open site/index.html.
docs: install
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

# The admin screenshots in docs/images/, taken by the browser tests (Debian's Chromium).
screenshots: install
	JOURNEYS_SCREENSHOTS=1 $(PY) -m pytest -q -m browser tests/test_admin_browser.py tests/test_channel_templates.py

clean:
	rm -rf $(VENV) site example_site/db.sqlite3 example_site/media
