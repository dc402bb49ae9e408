# Radar as a service: `docker run -v radar-state:/app/state --env-file radar.env radar`
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

RUN useradd --create-home --uid 10001 radar
WORKDIR /app

COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip install --no-cache-dir '.[postgres,brotli]'

COPY rules ./rules
COPY examples ./examples
RUN mkdir -p state && chown radar:radar state

USER radar
VOLUME ["/app/state"]
CMD ["radar", "run"]
