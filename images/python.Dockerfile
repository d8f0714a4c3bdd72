# The recipe every worker image shares: images/NAME/ holds only what differs (requirements.in and its
# hashed requirements.lock), or a Dockerfile of its own when an image needs more. Built by `nox -s images`
# (tag = hash of the inputs, see README "Worker images").
# Works with the classic builder (DOCKER_BUILDKIT=0): no RUN --mount, no heredocs.
ARG BASE_IMAGE=python:3.12-slim

FROM ${BASE_IMAGE} AS build
# uv is pinned here, installed with the base image's pip, and left behind in this stage.
ARG UV_VERSION=0.13.9
# Path inside the build context of a CA bundle to trust in addition to the base image's (an intercepting
# proxy). Build-time only: it is not copied into the final image.
ARG EXTRA_CA_BUNDLE=
# uv (default) or pip: pip is kept only to measure and to troubleshoot (benchmarks/images_build.py).
ARG INSTALLER=uv
ENV UV_NO_CACHE=1 UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY . /tmp/build/
RUN set -eu; \
    if [ -n "$EXTRA_CA_BUNDLE" ]; then \
      cat /etc/ssl/certs/ca-certificates.crt "/tmp/build/$EXTRA_CA_BUNDLE" > /tmp/ca.pem 2>/dev/null \
        || cp "/tmp/build/$EXTRA_CA_BUNDLE" /tmp/ca.pem; \
      export SSL_CERT_FILE=/tmp/ca.pem PIP_CERT=/tmp/ca.pem REQUESTS_CA_BUNDLE=/tmp/ca.pem; \
    fi; \
    if [ "$INSTALLER" = pip ]; then \
      python3 -m venv /opt/venv; \
      /opt/venv/bin/pip install --require-hashes --no-deps -r /tmp/build/requirements.lock; \
      /opt/venv/bin/pip uninstall -y pip setuptools >/dev/null 2>&1 || true; \
    else \
      python3 -m venv /opt/uv; \
      /opt/uv/bin/pip install "uv==${UV_VERSION}"; \
      python3 -m venv --without-pip /opt/venv; \
      /opt/uv/bin/uv pip install --python /opt/venv/bin/python --require-hashes --no-deps \
        -r /tmp/build/requirements.lock; \
    fi; \
    # pandas' own test suite is a third of its size and never imported by tasks.
    rm -rf /opt/venv/lib/python3*/site-packages/pandas/tests; \
    rm -rf /tmp/build /tmp/ca.pem /root/.cache

FROM ${BASE_IMAGE}
# Airflow's convention: uid 50000, group 0 (so an arbitrary uid on OpenShift-like clusters can still write).
RUN useradd --uid 50000 --gid 0 --home-dir /home/airflow --create-home --no-log-init airflow \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /root/.cache
COPY --from=build /opt/venv /opt/venv
# The task launcher (images/launcher/launch.py, copied into the build context by `nox -s images`): runs a task
# script from the DAGs mount or from a bucket (dags/common/contract.py LAUNCHER names this path).
COPY launch.py /opt/automation/launch.py
ENV PATH=/opt/venv/bin:$PATH VIRTUAL_ENV=/opt/venv PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    HOME=/home/airflow
USER 50000:0
WORKDIR /home/airflow
