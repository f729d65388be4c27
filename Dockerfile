# syntax=docker/dockerfile:1
# Two images from one Dockerfile, each with only its own component and dependencies:
#
#   docker build --target api      -t changetrail-api:0.1.0 .       # changetrail api | migrate | keys
#   docker build --target operator -t changetrail-operator:0.1.0 .  # changetrail operator
#
# (`make image` builds both.) Without --target, docker builds the last stage: the API image.
# tests/image/test_image_install.py replays the build stage's COPY and RUN steps in a temporary
# directory, so the install steps stay proven where no Docker engine runs.

# Pinned by version so rebuilds get the same interpreter; override to pin a digest.
ARG PYTHON_IMAGE=python:3.11.14-slim-trixie
# The release: the version of both Python packages and the chart's appVersion (a test keeps
# the four equal).
ARG VERSION=0.1.0

# What both images share: the interpreter, the non-root user, the environment, the labels.
FROM ${PYTHON_IMAGE} AS base
ARG VERSION
LABEL org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="changetrail"
# A fixed numeric user, so Kubernetes can check runAsNonRoot without reading /etc/passwd;
# the chart's securityContext uses the same ids.
RUN groupadd --system --gid 10001 changetrail \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin changetrail
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
ENTRYPOINT ["changetrail"]

# Builds both members' wheels and installs each component into its own virtual environment,
# at the path it keeps in its image (scripts in a venv name their interpreter by full path).
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
COPY pyproject.toml uv.lock ./
COPY api ./api
COPY operator ./operator
RUN uv build --all-packages --wheel --out-dir /dist
# Each component gets exactly the versions uv.lock pins for it, checked against the lock's
# hashes, and nothing of the other component: the operator's venv has no FastAPI, SQLAlchemy
# or database driver, the API's no kopf. --no-build: every dependency installs from a wheel,
# so no stage needs a compiler. Bytecode is compiled here because the running container's
# root filesystem is read-only.
RUN uv export --package changetrail-api --no-dev --frozen --no-emit-workspace \
       --format requirements.txt --output-file api-requirements.txt \
    && uv venv --python /usr/local/bin/python /opt/changetrail-api \
    && uv pip install --python /opt/changetrail-api/bin/python --require-hashes --no-build \
       --requirements api-requirements.txt \
    && uv pip install --python /opt/changetrail-api/bin/python --no-deps \
       /dist/changetrail_api-*.whl \
    && uv pip check --python /opt/changetrail-api/bin/python
RUN uv export --package changetrail-operator --no-dev --frozen --no-emit-workspace \
       --format requirements.txt --output-file operator-requirements.txt \
    && uv venv --python /usr/local/bin/python /opt/changetrail-operator \
    && uv pip install --python /opt/changetrail-operator/bin/python --require-hashes --no-build \
       --requirements operator-requirements.txt \
    && uv pip install --python /opt/changetrail-operator/bin/python --no-deps \
       /dist/changetrail_operator-*.whl \
    && uv pip check --python /opt/changetrail-operator/bin/python

# The operator image: `changetrail operator`, watching the cluster it runs in.
FROM base AS operator
LABEL org.opencontainers.image.title="changetrail-operator" \
      org.opencontainers.image.description="Records rollouts, rollbacks, config changes and scaling in a Kubernetes cluster into the changetrail API."
COPY --from=build /opt/changetrail-operator /opt/changetrail-operator
ENV PATH=/opt/changetrail-operator/bin:$PATH
USER 10001:10001
# Liveness and Prometheus metrics.
EXPOSE 8081 9090
CMD ["operator"]

# The API image: `changetrail api`, `changetrail migrate` and `changetrail keys`.
FROM base AS api
LABEL org.opencontainers.image.title="changetrail-api" \
      org.opencontainers.image.description="Records what changed (deployments, config, scaling, CI and cloud events) and ranks changes against incidents."
RUN install --directory --owner 10001 --group 10001 /data
COPY --from=build /opt/changetrail-api /opt/changetrail-api
ENV PATH=/opt/changetrail-api/bin:$PATH \
    CHANGETRAIL_DATABASE_URL=sqlite:////data/changetrail.db
WORKDIR /data
USER 10001:10001
EXPOSE 8080
CMD ["api", "--host", "0.0.0.0", "--port", "8080"]
