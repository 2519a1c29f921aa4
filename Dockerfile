# syntax=docker/dockerfile:1
# Two stages: build the wheel, then install it alone into a slim runtime with no compilers.
# Until the worker lands, the image's default command is the emulated tenant (like the
# Azure Storage emulator's image); `docker run IMAGE --help` lists every command.

FROM python:3.11.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY monitor/ monitor/
COPY checks/ checks/
COPY emulator/ emulator/
RUN pip install --no-cache-dir "hatchling>=1.25" \
 && pip wheel --no-cache-dir --no-deps --no-build-isolation -w /dist .

FROM python:3.11.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=build /dist/ /tmp/dist/
RUN pip install --no-cache-dir /tmp/dist/*.whl \
 && rm -rf /tmp/dist \
 && groupadd --system --gid 10001 monitor \
 && useradd --system --uid 10001 --gid monitor --home-dir /var/lib/entra-monitor --create-home monitor
USER 10001:10001
WORKDIR /var/lib/entra-monitor
VOLUME ["/var/lib/entra-monitor"]
EXPOSE 8443
ENTRYPOINT ["entra-monitor"]
CMD ["emulator", "--host", "0.0.0.0", "--port", "8443", "--state-dir", "/var/lib/entra-monitor/emulator"]
