# The README's two commands: `make demo` (set-up + the main job) and `make test`.
.PHONY: setup demo test lint bench default-model

setup:
	bash scripts/setup.sh

demo: setup
	.venv/bin/almkit demo

test: setup
	.venv/bin/pytest -q

lint:
	.venv/bin/ruff check src tests benchmarks recipes
	.venv/bin/ruff format --check src tests benchmarks recipes
	.venv/bin/lint-imports

default-model: setup
	.venv/bin/python recipes/default_model.py --install
