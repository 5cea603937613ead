"""`python -m auditflow.notification`"""

from auditflow.notification import SERVICE
from auditflow.notification.app import main
from auditflow.runtime import run

if __name__ == "__main__":
    run(SERVICE, main)
