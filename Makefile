# Parley's two commands: `make run` and `make test`. Both install what a fresh machine lacks.

# Builds land outside the checkout so a fresh clone (as in CI) reuses earlier builds.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/parley/target
# Leptos reads this when it compiles (scripts/build.sh sets it too, as cargo-leptos does);
# setting it for every cargo command here keeps their artifacts shared.
export LEPTOS_OUTPUT_NAME := parley
# The binary `make run` serves, copied out of cargo's way: `cargo test` rebuilds
# release/parley with the test build's settings, and the tests must run this one.
BIN := $(CARGO_TARGET_DIR)/dist/parley

.PHONY: run test build model test-deps test-rust test-python test-browser test-durability fuzz bench-export bench-load bench-model bench-pages bench-reward bench-setup

## Build the release server and browser bundle, fetch the model, serve on 127.0.0.1:3000.
run: build model
	$(BIN) serve

## Unit, store (SQLite and PostgreSQL), HTTP and browser tests against the release build.
test: test-deps build model test-rust test-python test-browser

build:
	scripts/build.sh
	install -D $(CARGO_TARGET_DIR)/release/parley $(BIN)

model:
	scripts/fetch-model.sh

test-deps:
	scripts/test-deps.sh

# app-hydrate is only the browser's wasm entry (a cdylib): built for the host, it would
# link the app and its server dependencies into a shared library that nothing tests.
test-rust:
	PARLEY_BIN=$(BIN) cargo test --workspace --exclude app-hydrate --release --no-fail-fast

## kill -9 under load, TRIALS times per engine (make test runs 2): every acknowledged
## submission is there once after the restart.
TRIALS ?= 20
test-durability: build
	PARLEY_BIN=$(BIN) PARLEY_DURABILITY_TRIALS=$(TRIALS) cargo test --release -p parley-tests --test durability

## Fuzz the importers, the ranking check and the filter policy, FUZZ_SECONDS each (nightly).
FUZZ_SECONDS ?= 60
fuzz:
	scripts/fuzz.sh $(FUZZ_SECONDS)

# Every exported file loaded with Hugging Face `datasets` (installed by test-deps).
test-python:
	$(HOME)/.cache/parley/venv/bin/python tests/python/check_exports.py $(BIN)

test-browser:
	cd tests/browser && PARLEY_BIN=$(BIN) PARLEY_SITE_ROOT=$(CURDIR)/target/site node --test --test-concurrency=1

## The model's speed beside llama.cpp's (built once from llama-cpp-python 0.3.36's source).
bench-model: build model
	scripts/bench-model.sh $(BIN) 2

## Set-up time: clone to serving from an empty home (own caches), with where the build went.
bench-setup:
	scripts/bench-setup.sh

## Time to interactive of the Rank and Write pages in Chromium, beside the bundle served
## uncompressed and uncached; RUNS loads each.
RUNS ?= 7
bench-pages: build test-deps
	cd tests/browser && RUNS=$(RUNS) PARLEY_BIN=$(BIN) PARLEY_SITE_ROOT=$(CURDIR)/target/site node bench-pages.mjs

## Reward model on the shared HH-RLHF file imported as rankings: held-out accuracy of a
## Bradley–Terry head on the model's features, a random-label control, the time it took.
bench-reward: build model
	scripts/bench-reward.sh $(BIN)

## Export benchmark: 1,000,000 preference pairs from SQLite, time and peak memory.
bench-export: build
	scripts/bench-export.sh $(BIN)

## Load benchmark: 1, 10 and 50 trainers ranking for LOAD_SECONDS each, on SQLite (also with
## LOAD_OPEN comparisons more in the queue) and PostgreSQL (also two instances), beside
## Label Studio's figures; then the quality figures over LOAD_RANKINGS rankings. The first
## run prints a perf profile of the run with 50 trainers.
LOAD_SECONDS ?= 60
LOAD_OPEN ?= 1000000
LOAD_RANKINGS ?= 1000000
bench-load: build
	$(BIN) bench-load --engine sqlite --seconds $(LOAD_SECONDS) --profile
	$(BIN) bench-load --engine sqlite --seconds $(LOAD_SECONDS) --open $(LOAD_OPEN) --trainers 10,50
	$(BIN) bench-load --engine postgres --seconds $(LOAD_SECONDS)
	$(BIN) bench-load --engine postgres --seconds $(LOAD_SECONDS) --instances 2 --trainers 50
	$(BIN) bench-load --engine sqlite --seconds 10 --prompts 1000 --rankings $(LOAD_RANKINGS) --trainers 10 --retries 0
