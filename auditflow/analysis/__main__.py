"""`python -m auditflow.analysis`."""

from auditflow.analysis import SERVICE
from auditflow.analysis.app import build
from auditflow.runtime import run

if __name__ == "__main__":
    run(SERVICE, build)
