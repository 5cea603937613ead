"""The installed package, checked outside the checkout (test_wheel.py)."""

# What the Dockerfile's `wheels` stage copies before `pip wheel .`, and what the wheel test builds
# its wheel from: tests/k8s/test_dockerfile.py keeps the two the same list.
WHEEL_SOURCES = ("pyproject.toml", "README.md", "auditflow", "drills")
