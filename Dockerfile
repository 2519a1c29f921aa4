# syntax=docker/dockerfile:1
# The monitor's worker image. Two stages: the first builds the wheel, the second installs that wheel
# alone (with its dependencies from the package index) into a slim runtime with no compilers, no
# pip cache and no source tree. tests/test_packaging.py installs the same wheel into a fresh virtual
# environment the same way and runs it, since no Docker engine runs on the development machines.
#
#   docker build -t entra-monitor .
#   docker run -v monitor-data:/var/lib/entra-monitor \
#     -v "$PWD/monitor.toml:/etc/entra-monitor/config/monitor.toml:ro" entra-monitor
#   docker run --rm entra-monitor emulator --host 0.0.0.0   # the emulated tenant, for a demo
#
# Configuration: the TOML file is read from config/monitor.toml in the working directory
# /etc/entra-monitor (mount it there, read-only), and ENTRA_MONITOR_<SECTION>__<FIELD> variables
# override it. State and snapshots live on the volume /var/lib/entra-monitor.

# The same pinned base for both stages (Python 3.11, Debian 12 slim).
FROM python:3.11.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY monitor/ monitor/
COPY checks/ checks/
COPY emulator/ emulator/
RUN pip install --no-cache-dir "hatchling==1.33.0" \
 && pip wheel --no-cache-dir --no-deps --no-build-isolation -w /dist .

FROM python:3.11.11-slim-bookworm AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
# Only wheels are accepted, so nothing is compiled (and no compiler is needed); the wheel is removed
# with the layer that installed it.
RUN --mount=type=bind,from=build,source=/dist,target=/tmp/dist \
    pip install --no-cache-dir --only-binary=:all: /tmp/dist/*.whl \
 && groupadd --system --gid 10001 monitor \
 && useradd --system --uid 10001 --gid monitor --no-create-home --home-dir /var/lib/entra-monitor \
      --shell /usr/sbin/nologin monitor \
 && mkdir -p /etc/entra-monitor/config /var/lib/entra-monitor/state /var/lib/entra-monitor/snapshots \
 && chown -R 10001:10001 /var/lib/entra-monitor
# In a container the health server must listen on every interface for the probes to reach it; state
# and snapshots are absolute paths on the volume, so the working directory can stay read-only.
ENV ENTRA_MONITOR_HEALTH__HOST=0.0.0.0 \
    ENTRA_MONITOR_HEALTH__PORT=8080 \
    ENTRA_MONITOR_STATE__PATH=/var/lib/entra-monitor/state/monitor.db \
    ENTRA_MONITOR_SNAPSHOTS__DIRECTORY=/var/lib/entra-monitor/snapshots \
    ENTRA_MONITOR_LOGGING__FORMAT=json
WORKDIR /etc/entra-monitor
VOLUME ["/var/lib/entra-monitor"]
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"]
# SIGTERM stops the worker within worker.grace_seconds (default 30); `docker stop -t 45` leaves room.
STOPSIGNAL SIGTERM
ENTRYPOINT ["entra-monitor"]
CMD ["run"]
