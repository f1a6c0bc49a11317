# OEE Live: `make run` starts the demo plant, `make test` runs the whole suite.
# Both build .venv from requirements*.txt first, again only when those files change.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.installed-runtime
TEST_STAMP := $(VENV)/.installed-test
PYTEST_ARGS ?=
CHROMIUM ?= /usr/bin/chromium

.PHONY: run test bench chromium locale clean distclean
# Serial even under make -j: two stamps' pip installs into one .venv at once would break it.
.NOTPARALLEL:

run: $(RUNTIME_STAMP) locale
	scripts/run.sh

test: $(TEST_STAMP) chromium locale
	$(BIN)/pytest $(PYTEST_ARGS)

# Benchmarks: each prints its figures against the bare library, then one summary line; the
# summary lines are printed again at the end (the README's table). DATABASE_URL picks the database.
BENCHES := "collect.py" "collect.py --pipeline" "ingest.py" "oee_year.py" "fanout.py" "latency.py" "pages.py"
bench: $(TEST_STAMP) locale
	@mkdir -p var/bench; : > var/bench/summary.txt; \
	for bench in $(BENCHES); do \
		echo "== bench/$$bench"; \
		PYTHONPATH=$(CURDIR) $(BIN)/python bench/$$bench 2>&1 | tee var/bench/last.log; \
		echo "bench/$$bench → $$(tail -n 1 var/bench/last.log)" >> var/bench/summary.txt; \
	done; echo "== summary ($${DATABASE_URL:-SQLite}, $$(date -u +%F))"; cat var/bench/summary.txt

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
		echo "OEE Live needs Python 3.11 or newer as '$(PYTHON)' (make PYTHON=python3.12 ...)."; exit 1; }
	@$(PYTHON) -m venv $(VENV) || { \
		rm -rf $(VENV); \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "Installing Debian's python3-venv, which python3 -m venv needs"; \
			apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y python3-venv \
				&& $(PYTHON) -m venv $(VENV); \
		else \
			echo "python3 -m venv failed: install python3-venv (sudo apt-get install python3-venv)"; exit 1; \
		fi; }

$(RUNTIME_STAMP): requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

# requirements-test.txt includes requirements.txt, so this stamp stands for both.
$(TEST_STAMP): requirements.txt requirements-test.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-test.txt
	touch $(RUNTIME_STAMP) $@

# The translations: each .mo is compiled from its .po (with Babel, no GNU gettext), again only when
# the .po changes. The .mo files are not in git.
LOCALE_MO := $(patsubst %.po,%.mo,$(wildcard locale/*/LC_MESSAGES/*.po))
locale: $(LOCALE_MO)

locale/%.mo: locale/%.po | $(RUNTIME_STAMP)
	$(BIN)/python -m oee_site.catalogs

# The browser tests drive Debian's Chromium. Best effort: install it when we can, else those
# tests skip and say why; this target never fails.
chromium:
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's chromium for the browser tests"; \
		{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; } \
			|| echo "Could not install chromium: the browser tests will be skipped."; \
	else \
		echo "No $(CHROMIUM) (apt-get install chromium as root): the browser tests will be skipped."; \
	fi

# Removes what runs leave behind, the demo database included; distclean also removes .venv.
clean:
	rm -rf var .hypothesis .pytest_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
