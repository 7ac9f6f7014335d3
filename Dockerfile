# kubelens: one image, every component a subcommand of the `kubelens` console script
# (kubelens operator | agent | webhook | investigate | ...).
#
# No container can be built on the project's machines, so the install step below is the
# very line CI runs in a fresh virtualenv (.ci/run): a green CI proves this build's
# install works. tests/chart/test_dockerfile.py keeps the two in step.

FROM python:3.11-slim AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1 \
    PYTHONDONTWRITEBYTECODE=1

# A virtualenv is the whole payload copied into the final stage: no compilers, no pip
# cache, no build tree.
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
# setuptools finds the package under operator/ (pyproject: packages.find where=operator);
# README.md is the project's long description and must exist for the build.
COPY pyproject.toml README.md ./
COPY operator/ ./operator/
RUN pip install --no-cache-dir .

FROM python:3.11-slim

LABEL org.opencontainers.image.title="kubelens" \
      org.opencontainers.image.description="LLM-driven runtime investigation for Kubernetes" \
      org.opencontainers.image.licenses="Apache-2.0"

# LITELLM_LOCAL_MODEL_COST_MAP: litellm would otherwise fetch its price list from the
# internet on import; clusters often have no egress.
ENV LITELLM_LOCAL_MODEL_COST_MAP=True \
    PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp

# UID/GID 10001 match the chart's runAsUser/runAsGroup; no home directory, no shell.
RUN groupadd --system --gid 10001 kubelens \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin kubelens

COPY --from=builder /opt/venv /opt/venv

USER 10001:10001
WORKDIR /tmp

ENTRYPOINT ["kubelens"]
CMD ["--help"]
