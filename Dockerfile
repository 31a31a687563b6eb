# The API image for docker-compose.yml (production-like stack with a real TimescaleDB server).

# the web UI's and the API docs' front-end packages, from the committed lockfile
FROM node:20-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY api ./api
COPY sql ./sql
COPY web/ui ./web/ui
COPY --from=web /web/node_modules ./web/node_modules
RUN pip install . \
    && useradd --system --uid 10001 --no-create-home ess
ENV ESS_SQL_DIR=/app/sql ESS_WEB_DIR=/app/web
USER ess
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=5 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/api/ess/operating-sites/', timeout=2)"
CMD ["ess", "serve", "--host", "0.0.0.0", "--port", "8000"]
