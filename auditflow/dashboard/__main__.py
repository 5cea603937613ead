"""`python -m auditflow.dashboard`"""

from auditflow.dashboard import SERVICE
from auditflow.dashboard.app import main
from auditflow.runtime import run

if __name__ == "__main__":
    run(SERVICE, main)
