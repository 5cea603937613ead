# The two commands a new user needs: `make demo` (the main job) and `make test` (the whole suite).
# Both install what is missing first (Debian packages, .venv) and are safe to run twice.
.PHONY: setup demo test down status lint bench

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

# The seven benchmarks (bench/), one after the other, each on its own sandbox (ports 29000-29349),
# each printing one JSON object, also saved under bench/results/. About 30 minutes on 2 cores.
BENCHMARKS = cli drain pipeline restore drill_overhead footprint netproxy
bench:
	@mkdir -p bench/results
	@for name in $(BENCHMARKS); do \
		echo "== bench/$$name.py"; \
		.venv/bin/python bench/$$name.py > bench/results/$$name.json || exit 1; \
		cat bench/results/$$name.json; \
	done
