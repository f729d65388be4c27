# syntax=docker/dockerfile:1
# The changetrail image: one CLI, run as `changetrail api`, `changetrail migrate` or
# `changetrail operator` (the Helm chart runs each from this image).
#
#   docker build -t changetrail:dev .
#
# tests/chart/test_image_install.py replays the build stage's COPY and RUN steps in a clean
# virtual environment, so the install steps stay proven where no Docker engine runs.

# Pinned by version so rebuilds get the same interpreter; override to pin a digest.
ARG PYTHON_IMAGE=python:3.11.14-slim-trixie

FROM ${PYTHON_IMAGE} AS build
# The same uv release the Makefile installs for development.
ARG UV_VERSION=0.13.8
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_NO_CACHE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1
RUN python -m pip install "uv==${UV_VERSION}"
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN uv build --wheel --out-dir /dist
# Every dependency installs from a wheel, so neither stage needs a compiler. Bytecode is
# compiled here because the running container's root filesystem is read-only.
RUN uv venv --python /usr/local/bin/python /opt/changetrail \
    && uv pip install --python /opt/changetrail/bin/python /dist/*.whl

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="changetrail" \
      org.opencontainers.image.description="Records what changed (deployments, config, scaling, CI and cloud events) and ranks changes against incidents." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
# A fixed numeric user, so Kubernetes can check runAsNonRoot without reading /etc/passwd;
# the chart's securityContext uses the same ids.
RUN groupadd --system --gid 10001 changetrail \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin changetrail \
    && install --directory --owner 10001 --group 10001 /data
COPY --from=build /opt/changetrail /opt/changetrail
ENV PATH=/opt/changetrail/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CHANGETRAIL_DATABASE_URL=sqlite:////data/changetrail.db
WORKDIR /data
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["changetrail"]
CMD ["api", "--host", "0.0.0.0", "--port", "8080"]
