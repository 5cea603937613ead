# syntax=docker/dockerfile:1.7
# Images for AuditFlow on Kubernetes/K3s, multi-arch (linux/amd64 and the Pi 5's linux/arm64):
#
#   docker buildx build --platform linux/amd64,linux/arm64 --target auditflow \
#     -t auditflow/auditflow:0.1.0 --push .
#   docker buildx build --platform linux/amd64,linux/arm64 --target harness \
#     -t auditflow/genesis-drill:0.1.0 --push .
#
# `auditflow` runs the four services (`python -m auditflow.<service>`, chosen by the manifests);
# `harness` runs genesis-drill in the cluster (the game-day CronJob, the malformed-events Job) and
# carries pg_dump/pg_restore for the restore drill. Every base image is multi-arch, every Python
# dependency has wheels for both architectures, so no stage compiles anything.
#
# Both images install the one wheel, and nothing else from the source tree: the drill catalog, the
# game-day plans, the post-mortem templates and the rule files are package data inside it
# (tests/packaging/test_wheel.py builds the wheel from the same four sources and runs it elsewhere).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS wheels
WORKDIR /src
COPY pyproject.toml README.md ./
COPY auditflow ./auditflow
COPY drills ./drills
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM ${PYTHON_IMAGE} AS auditflow
# The project's version (pyproject.toml); tests/k8s/test_dockerfile.py keeps the two equal.
ARG VERSION=0.1.0
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY --from=wheels /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels "genesis-drill==${VERSION}" \
    && rm -rf /wheels \
    && useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin auditflow
USER 10001
EXPOSE 8080 8081 8082 8083
CMD ["python", "-m", "auditflow.dashboard"]

FROM auditflow AS harness
USER 0
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client-15 \
    && rm -rf /var/lib/apt/lists/*
# Read-only root filesystem in the cluster: Hypothesis (malformed events) keeps its files in /tmp.
ENV HYPOTHESIS_STORAGE_DIRECTORY=/tmp/hypothesis
USER 10001
ENTRYPOINT ["genesis-drill"]
CMD ["list"]
