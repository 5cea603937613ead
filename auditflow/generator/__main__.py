"""`python -m auditflow.generator`."""

from auditflow.generator import SERVICE
from auditflow.generator.app import build
from auditflow.runtime import run

if __name__ == "__main__":
    run(SERVICE, build)
