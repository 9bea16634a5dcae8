# advocacy-bot: a slim, non-root image. Build: docker build -t advocacy-bot .
# The wheel is built and installed (into /install) in a throw-away stage; the image copies only the installed
# files, so it holds no compiler, source tree, wheels or pip cache (a COPY of the wheels followed by `rm` would
# keep them in a layer of their own).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot bot
COPY handlers handlers
COPY jobs jobs
COPY storage storage
RUN pip install --no-cache-dir --no-warn-script-location --prefix=/install .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=3000 \
    ADVOCACY_CONFIG=/config/advocacy.yaml \
    DATABASE_URL=sqlite:////data/advocacy.db \
    LOG_FORMAT=json
RUN useradd --system --uid 10001 --user-group --home-dir /data --create-home advocacy
COPY --from=build /install /usr/local
USER advocacy
WORKDIR /data
EXPOSE 3000
# /healthz answers while the process serves (HTTP and Socket Mode alike); /readyz is for load balancers.
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=2)"]
CMD ["advocacy-bot", "run"]
