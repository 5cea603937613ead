# The two commands a new user needs: `make demo` (the main job) and `make test` (the whole suite).
# Both install what is missing first (Debian packages, .venv) and are safe to run twice.
.PHONY: setup demo test down status lint

setup:
	bash scripts/setup.sh

demo:
	bash scripts/demo.sh

test:
	bash scripts/test.sh

status:
	.venv/bin/genesis-drill platform status

down:
	.venv/bin/genesis-drill platform down

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy && .venv/bin/lint-imports
