# One-command set-up: `make serve` (install, build the site with the shipped model, serve it) and
# `make test` (install with test extras, run the whole suite, browser tests included).
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DATA ?= ../shared/data/ham10000
WEIGHTS ?= ../shared/weights/mobilenet_v2_1.0_224_torchvision_imagenet1k_v1_keras_no_top.h5
MODEL := models/ham10000

.PHONY: install serve build test train evaluate export eda

$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/pip check
	touch $@

install: $(BIN)/.installed

build: install
	$(BIN)/python build.py

serve: install
	$(BIN)/python build.py --serve

node_modules/.installed: package.json package-lock.json
	npm ci --silent --no-audit --no-fund
	touch $@

test: install node_modules/.installed
	$(BIN)/python -m pytest

# The shipped model, end to end (CPU, about an hour on 2 cores); see README.
train: install
	$(BIN)/python -m train --data $(DATA) --out $(MODEL) --alpha 1.0 --size 160 --imbalance sampling --backbone-weights $(WEIGHTS)

evaluate: install
	$(BIN)/python -m train.evaluate --images $(DATA)/images --labels $(MODEL)/test_labels.csv --out reports/test/keras

export: install
	$(BIN)/python -m export --model $(MODEL) --out site/model --test-metrics reports/test/keras/metrics.json

eda: install
	$(BIN)/python -m train.eda --data $(DATA) --out reports/eda
