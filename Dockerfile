# The one image of georchestra-analytics: the operator and every Job (db-migrate, parse, superset-sync) run it.
# Build: docker build --build-arg VERSION=$(version) -t ghcr.io/georchestra/analytics:$(version) .
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm
# The release version (tools/release-version; .github/workflows/release.yml passes it): the image's version label.
# A local build without it says "unknown" rather than a version it was not checked to be.
ARG VERSION=unknown

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
RUN pip install --no-cache-dir build==1.3.0 hatchling==1.27.0
COPY pyproject.toml README.md ./
COPY operator/ operator/
COPY vector/ vector/
COPY timescale/ timescale/
COPY superset/ superset/
ARG VERSION
RUN python -m build --wheel --no-isolation --outdir /dist . \
 && if [ "$VERSION" != unknown ] && [ ! -f "/dist/georchestra_analytics-$VERSION-py3-none-any.whl" ]; then \
      echo "VERSION=$VERSION is not pyproject.toml's version: built $(ls /dist)" >&2; exit 1; \
    fi

FROM ${PYTHON_IMAGE}
ARG VERSION
LABEL org.opencontainers.image.title="georchestra-analytics" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.description="Usage analytics for geOrchestra: operator, parse job, migrations, Superset sync" \
      org.opencontainers.image.source="https://github.com/georchestra/analytics" \
      org.opencontainers.image.licenses="GPL-3.0-or-later"
ENV VIRTUAL_ENV=/opt/georchestra-analytics \
    PATH=/opt/georchestra-analytics/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
COPY --from=build /dist/*.whl /tmp/wheels/
RUN python -m venv "$VIRTUAL_ENV" \
 && "$VIRTUAL_ENV/bin/pip" install --no-cache-dir /tmp/wheels/*.whl \
 && rm -rf /tmp/wheels \
 && "$VIRTUAL_ENV/bin/python" -m compileall -q "$VIRTUAL_ENV"
# A numeric non-root user, so `runAsNonRoot: true` can be verified by the kubelet. Nothing is written outside
# mounted volumes at run time: /tmp is an emptyDir in the pods the operator creates (read-only root filesystem).
USER 65532:65532
WORKDIR /tmp
ENTRYPOINT ["georchestra-analytics"]
CMD ["--help"]
