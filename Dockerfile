# syntax=docker/dockerfile:1
# Radar as a service (see "Running it in production" in the README):
#   docker build -t radar .
#   cp radar.env.example radar.env   # then fill in the tokens
#   docker run -d --name radar --env-file radar.env -v radar-state:/app/state \
#     -p 127.0.0.1:8080:8080 radar
# The rules and feeds are baked in; mount your own with -v "$PWD/rules:/app/rules:ro".

ARG PYTHON_VERSION=3.12

# Build: the virtual environment, dependencies first (from pyproject.toml alone, so a change
# to the code reuses this layer), then Radar itself without its dependencies.
FROM python:${PYTHON_VERSION}-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/radar
ENV PATH=/opt/radar/bin:$PATH
WORKDIR /src
COPY pyproject.toml ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
extra = p['optional-dependencies']; \
print('\n'.join(p['dependencies'] + extra['postgres'] + extra['brotli']))" > requirements.txt \
 && pip install -r requirements.txt
COPY README.md ./
COPY bot ./bot
RUN pip install --no-deps .

# Run: the virtual environment, the shipped rules and samples, a non-root user.
FROM python:${PYTHON_VERSION}-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/radar/bin:$PATH \
    RADAR_HTTP_PORT=8080 \
    RADAR_HTTP_HOST=0.0.0.0 \
    RADAR_CACHE_DIR=/app/state/cache
RUN useradd --uid 10001 --user-group --home-dir /app --no-create-home --shell /usr/sbin/nologin radar
COPY --from=build /opt/radar /opt/radar
WORKDIR /app
COPY rules ./rules
COPY examples ./examples
RUN mkdir -m 0700 state && chown radar:radar state
USER 10001:10001
VOLUME ["/app/state"]
EXPOSE 8080
# Healthy while the scheduler runs, the database answers and a feed was polled successfully
# lately (GET /healthz answers 200; 503 says why not).
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request as u; \
port = os.environ.get('RADAR_HTTP_PORT') or '8080'; \
sys.exit(0 if u.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=8).status == 200 else 1)"]
ENTRYPOINT ["radar"]
CMD ["run"]
