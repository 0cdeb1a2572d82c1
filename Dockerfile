# dataframer-watcher in a container. See README.md, "Run in a container".
#
#   docker build -t dataframer-watcher .
#
# BASE_IMAGE is any Debian-like image with python3 (>= 3.11) and its venv module: the official
# python:3.11-slim by default; `make image-check` passes a local Debian base instead, since no
# registry is reachable there. Both stages use the same base, so the venv built in the first
# one runs unchanged in the second.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python3 -m venv /opt/venv
COPY pyproject.toml README.md ./
COPY watcher ./watcher
RUN /opt/venv/bin/pip install --no-cache-dir . \
    && /opt/venv/bin/dataframer-watcher --version

FROM ${BASE_IMAGE}
# /opt/venv/bin first: both the official image (python in /usr/local/bin) and a Debian base
# (/usr/bin) find the watcher there.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    WATCHER_CONFIG=/etc/dataframer-watcher/watcher.yaml \
    WATCHER_STATE__PATH=/var/lib/dataframer-watcher/watcher.db \
    WATCHER_HEALTH__LISTEN=0.0.0.0:9464
# A fixed numeric uid/gid (10001) so the state volume's owner is predictable and
# Kubernetes' runAsNonRoot can check it.
RUN groupadd --gid 10001 watcher \
    && useradd --uid 10001 --gid 10001 --no-log-init --no-create-home \
        --home-dir /var/lib/dataframer-watcher --shell /usr/sbin/nologin watcher \
    && mkdir -p /var/lib/dataframer-watcher \
    && chown 10001:10001 /var/lib/dataframer-watcher \
    && chmod 0700 /var/lib/dataframer-watcher
COPY --from=builder /opt/venv /opt/venv
# Every key at its default: run on environment alone, or mount your own file over it.
COPY config/watcher.example.yaml /etc/dataframer-watcher/watcher.yaml
USER 10001:10001
WORKDIR /var/lib/dataframer-watcher
VOLUME ["/var/lib/dataframer-watcher"]
# /healthz, /readyz, /metrics.
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["dataframer-watcher", "health"]
# Exec form: Python is PID 1 and gets SIGTERM itself; the daemon handles it (and SIGINT) by
# finishing the current tick and giving in-flight sends 10 s. Stop with a grace above that
# (`docker stop -t 30`, compose's stop_grace_period: 30s).
STOPSIGNAL SIGTERM
ENTRYPOINT ["dataframer-watcher"]
CMD ["run"]
