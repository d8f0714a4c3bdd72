"""The Dockerfile every worker image without one of its own is built from, rendered per image.

uv (the default): one build stage per layer of the lock (automation/images/lock.py), each installing only its
own packages from the wheels handed to the build (no index, hashes checked), and one `COPY --from` per stage
into the image, in requirements.in's order. A stage whose wheels did not change is taken from the builder's
cache, and so is its `COPY` while no earlier layer changed: a changed requirement rebuilds its own layer (and
copies the few after it), and the base, the user and the other layers keep their digests, so a registry
already holds them. The launcher, which changes most often, comes last.

pip: the former single-stage build (pip downloads and installs everything inside the build); kept only to
measure against (benchmarks/images_build.py) and to troubleshoot.

The uv recipe has two forms that install the same files: with BuildKit (the default, automation/images/
buildkit.py) each stage bind-mounts its wheels from the build context, so they never become a layer and the
stages run in parallel; with the classic builder (DOCKER_BUILDKIT=0, or an engine without BuildKit) each stage
copies them in first and deletes them after. Bytecode is compiled after pandas' test suite is removed, on all
cores, rather than by uv during the install: the tests are a third of pandas and never imported by tasks.
"""

from __future__ import annotations

from dataclasses import dataclass

from automation.images.lock import Layer

# Airflow's convention: uid 50000, group 0 (an arbitrary uid on OpenShift-like clusters can still write).
# WORKDIR right after the user: BuildKit makes a (tiny) layer of it, which must come before the packages so that
# the launcher stays the last layer (a changed launcher or a new requirement then leaves the rest as they were).
_USER = """\
RUN useradd --uid 50000 --gid 0 --home-dir /home/airflow --create-home --no-log-init airflow \\
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /root/.cache
WORKDIR /home/airflow
"""
_TAIL = """\
# The task launcher (images/launcher/launch.py): runs a task script from the DAGs mount or from a bucket
# (dags/common/contract.py LAUNCHER names this path).
COPY launch.py /opt/automation/launch.py
ENV PATH=/opt/venv/bin:$PATH VIRTUAL_ENV=/opt/venv PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \\
    HOME=/home/airflow
USER 50000:0
"""
_UV_HEAD = """\
# Rendered by automation/images/recipe.py for image {image}: one stage per layer, see that module.
FROM {base} AS venv
COPY uv /usr/local/bin/uv
RUN python3 -m venv --without-pip /opt/venv
"""
# pandas' own test suite is a third of its size and never imported by tasks. compileall fails on a file that is
# not valid Python 3 (some packages ship templates named *.py): uv's own --compile-bytecode skips those too.
_UV_INSTALL = """\
UV_NO_CACHE=1 UV_LINK_MODE=copy uv pip install --python /opt/venv/bin/python --offline --no-index \\
      --find-links /tmp/layer --require-hashes --no-deps -r /tmp/layer/layer.lock \\
    && rm -rf /opt/venv/{purelib}/pandas/tests \\
    && {{ /opt/venv/bin/python -m compileall -q -j 0 /opt/venv/{purelib} >/dev/null || true; }}"""
_UV_LAYER_CLASSIC = """\
FROM venv AS layer-{index}
COPY layers/{index}/ /tmp/layer/
RUN {install} \\
    && rm -rf /tmp/layer
"""
_UV_LAYER_BUILDKIT = """\
FROM venv AS layer-{index}
RUN --mount=type=bind,source=layers/{index},target=/tmp/layer \\
    {install}
"""
_PIP = """\
# Rendered by automation/images/recipe.py for image {image} (installer pip: the former single-stage build).
FROM {base} AS build
ARG EXTRA_CA_BUNDLE=
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements.lock /tmp/build/requirements.lock
COPY ca/ /tmp/build/ca/
RUN set -eu; \\
    if [ -n "$EXTRA_CA_BUNDLE" ]; then \\
      cat /etc/ssl/certs/ca-certificates.crt "/tmp/build/ca/$EXTRA_CA_BUNDLE" > /tmp/ca.pem 2>/dev/null \\
        || cp "/tmp/build/ca/$EXTRA_CA_BUNDLE" /tmp/ca.pem; \\
      export SSL_CERT_FILE=/tmp/ca.pem PIP_CERT=/tmp/ca.pem; \\
    fi; \\
    python3 -m venv /opt/venv; \\
    /opt/venv/bin/pip install --require-hashes --no-deps -r /tmp/build/requirements.lock; \\
    /opt/venv/bin/pip uninstall -y pip setuptools >/dev/null 2>&1 || true; \\
    rm -rf /opt/venv/lib/python3*/site-packages/pandas/tests /tmp/build /tmp/ca.pem /root/.cache
"""
# The final stage's name: the build's output marks where installing ends and the image is put together.
FINAL_STAGE = "image"


@dataclass(frozen=True)
class Recipe:
    image: str
    base: str
    layers: tuple[Layer, ...] = ()
    purelib: str = "lib/python3/site-packages"

    def uv(self, *, buildkit: bool = True) -> str:
        parts = [_UV_HEAD.format(image=self.image, base=self.base)]
        template = _UV_LAYER_BUILDKIT if buildkit else _UV_LAYER_CLASSIC
        install = _UV_INSTALL.format(purelib=self.purelib)
        parts += [template.format(index=i, install=install) for i in range(len(self.layers))]
        parts.append(f"FROM {self.base} AS {FINAL_STAGE}\n{_USER}")
        parts += [f"# layer {i}: {layer.name} ({len(layer.entries)} packages)\n"
                  f"COPY --from=layer-{i} /opt/venv /opt/venv\n" for i, layer in enumerate(self.layers)]
        parts.append(_TAIL)
        return "\n".join(parts)

    def pip(self) -> str:
        return "\n".join([_PIP.format(image=self.image, base=self.base),
                          f"FROM {self.base} AS {FINAL_STAGE}\n{_USER}",
                          "COPY --from=build /opt/venv /opt/venv\n", _TAIL])


def template_fingerprint() -> str:
    """The recipe's fixed text: part of every content tag, so a changed recipe never reuses an old tag."""
    return "".join([_USER, _TAIL, _UV_HEAD, _UV_INSTALL, _UV_LAYER_CLASSIC, _UV_LAYER_BUILDKIT, _PIP, FINAL_STAGE])
