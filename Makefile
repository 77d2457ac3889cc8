# The two commands of this project (see README.md):
#
#   make book   build the book (executes every notebook) into _build/html/index.html
#   make test   check the library's layers (lint-imports), run its tests, then re-run the
#               notebooks and compare their outputs
#
# and, after `make book`, `make browser-test`: every built page checked in headless Chromium;
# `make lab` opens the notebooks live in JupyterLab, `make lab-test` runs two of them there in
# headless Chromium.
#
# Both create the virtual environment .venv first when needed (`make venv`). Nothing needs
# to be activated: every command uses .venv/bin explicitly.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# Written after a successful install; rebuilt when the pins or the package metadata change.
STAMP  := $(VENV)/.musicgen-installed

JS_DIR   := book/js
JS_STAMP := $(JS_DIR)/node_modules/.musicgen-installed

BUILD_DIR := _build
NBVAL_SANITIZE := .ci/nbval_sanitize.cfg

# Deterministic, headless runs; the venv's scripts (jupyter-book, musicgen) come first.
export MPLBACKEND := Agg
export PYTHONHASHSEED := 0
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: all venv data book book-stored test browser-test screenshots chromium lab lab-test clean
.DELETE_ON_ERROR:

all: book

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -r requirements.txt
	# The synthesiser for the book's audio; --no-deps because it declares pyaudio, which
	# needs PortAudio headers and is not used (we render offline, never play).
	$(PY) -m pip install --no-deps tinysoundfont==0.3.7
	$(PY) -m pip install -e . --no-deps
	@touch $@

# JavaScript served with the book (require.js, widget manager, MathJax): see book/js/package.json.
$(JS_STAMP): $(JS_DIR)/package.json $(wildcard $(JS_DIR)/package-lock.json)
	@if [ -f $(JS_DIR)/package-lock.json ]; then \
		npm ci --prefix $(JS_DIR) --no-audit --no-fund; \
	else \
		npm install --prefix $(JS_DIR) --no-audit --no-fund; \
	fi
	@touch $@

# The datasets and the thesis author's files, fetched into the data home when they are not
# there (`musicgen data fetch all`, see README "Run it yourself"): nothing is downloaded when
# ../shared lies beside the checkout or the files are already in place, each with its SHA-256.
# $MUSICGEN_DATA chooses another data home, $MUSICGEN_MIRROR another source.
data: venv
	$(VENV)/bin/musicgen data fetch all

book: venv data $(JS_STAMP)
	$(VENV)/bin/jupyter-book build . -W -n --keep-going
	$(PY) scripts/check_offline.py $(BUILD_DIR)/html
	@echo "The book is in $(BUILD_DIR)/html/index.html"

# The same book from the outputs stored in the notebooks, without executing them: what CI
# builds after `make test`, whose nbval pass has just checked that re-executing every
# notebook reproduces those outputs (so the pages equal a fresh `make book`).
book-stored: venv $(JS_STAMP)
	@mkdir -p $(BUILD_DIR)
	sed 's/^  execute_notebooks: force/  execute_notebooks: "off"/' _config.yml > $(BUILD_DIR)/_config_stored.yml
	@grep -q 'execute_notebooks: "off"' $(BUILD_DIR)/_config_stored.yml
	$(VENV)/bin/jupyter-book build . -W -n --keep-going --config $(BUILD_DIR)/_config_stored.yml
	$(PY) scripts/check_offline.py $(BUILD_DIR)/html
	@echo "The book (stored outputs) is in $(BUILD_DIR)/html/index.html"

test: venv data
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest -p no:cacheprovider tests
	$(PY) -m pytest -p no:cacheprovider --nbval --nbval-current-env \
		--nbval-sanitize-with $(NBVAL_SANITIZE) notebooks/

# Browser checks of the built book: Debian's chromium (installed with apt-get when missing;
# needs root or sudo), driven by the venv's playwright (never `playwright install`).
CHROMIUM ?= /usr/bin/chromium

chromium:
	@if [ ! -x "$(CHROMIUM)" ]; then \
		echo "Installing Debian's chromium with apt-get"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; \
	fi

# Opens every built page from file:// and checks scripts, images, audio, maths, widgets and
# that nothing is fetched from the network (scripts/browser_test.py). Builds the book first
# when there is none.
browser-test: venv chromium
	@test -f $(BUILD_DIR)/html/index.html || $(MAKE) book
	$(PY) scripts/browser_test.py $(BUILD_DIR)/html --browser $(CHROMIUM)

# Retakes README.md's pictures book/images/screenshot-*.png from the built book.
screenshots: venv chromium
	@test -f $(BUILD_DIR)/html/index.html || $(MAKE) book
	$(PY) scripts/screenshots.py $(BUILD_DIR)/html --browser $(CHROMIUM)

# The notebooks live: JupyterLab on notebooks/, its kernel the venv's python (the venv's
# jupyter runs the server, and its kernelspec "python3" starts the server's own python).
# More options with LAB_ARGS, e.g. make lab LAB_ARGS="--no-browser --port 8899".
LAB_ARGS ?=

lab: venv data
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks \
		$$( [ "$$(id -u)" = 0 ] && echo --allow-root ) $(LAB_ARGS)

# JupyterLab started headless on a copy of notebooks/ (the committed notebooks are untouched),
# driven in Chromium: 11_play run, its app used (another model and seed, Generate: a new audio
# player and piano roll), then 03_rnn_rbm run top to bottom; no cell may show an error
# (scripts/lab_test.py; --timeout for the long notebook, --screenshot to keep the window).
lab-test: venv data chromium
	$(PY) scripts/lab_test.py --browser $(CHROMIUM)

clean:
	rm -rf $(BUILD_DIR) $(JS_DIR)/node_modules
