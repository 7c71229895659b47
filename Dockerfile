# Partnership Trust Survey: the survey service on uvicorn, migrating its database on start.

# The NHS.UK frontend's built CSS, JS and images, from npm (package-lock.json pins it).
FROM node:20-slim AS frontend
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /srv/trust-survey

# Pango and a font for WeasyPrint, which renders the report PDFs.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 survey \
    && useradd --system --uid 10001 --gid survey --home-dir /srv/trust-survey --shell /usr/sbin/nologin survey

COPY pyproject.toml README.md ./
COPY app ./app
COPY analysis ./analysis
COPY instruments ./instruments
COPY migrations ./migrations
COPY --from=frontend /build/node_modules/nhsuk-frontend ./node_modules/nhsuk-frontend
RUN pip install --no-cache-dir . \
    && mkdir -p /srv/trust-survey/data \
    && chown survey:survey /srv/trust-survey/data

USER 10001:10001
# Production needs SECRET_KEY (32+ random characters) and PUBLIC_BASE_URL (the address
# respondents' links start with) from `docker run -e ...` or compose; it stops with one line
# naming whichever is missing.
ENV ENVIRONMENT=production \
    DATABASE_URL=sqlite:////srv/trust-survey/data/trust-survey.sqlite3 \
    NHSUK_FRONTEND_PATH=/srv/trust-survey/node_modules/nhsuk-frontend
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

# Migrate (unless MIGRATE=0, when a one-off job has done it), then serve WEB_CONCURRENCY
# workers; no access log, so no respondent's IP address or link token is written anywhere.
# FORWARDED_ALLOW_IPS: the proxy whose X-Forwarded-For/-Proto headers are trusted.
ENV MIGRATE=1 \
    WEB_CONCURRENCY=2 \
    FORWARDED_ALLOW_IPS=127.0.0.1
CMD ["sh", "-c", "if [ \"$MIGRATE\" = 1 ]; then trust-survey db upgrade; fi && exec uvicorn --factory app.main:create_app --host 0.0.0.0 --port 8000 --workers \"$WEB_CONCURRENCY\" --no-access-log --proxy-headers --forwarded-allow-ips \"$FORWARDED_ALLOW_IPS\""]
