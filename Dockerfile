# The production image: one image, three roles (web, worker, beat) chosen by the command.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    ZENSKAR_DATA_DIR=/var/lib/zenskar

# WeasyPrint renders invoice PDFs with Pango; fonts for the default invoice template.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY zenskar ./zenskar
COPY contracts ./contracts
COPY metering ./metering
COPY invoicing ./invoicing
COPY payments ./payments
COPY revrec ./revrec
COPY receivables ./receivables
COPY entitlements ./entitlements
COPY templates ./templates
COPY static ./static
COPY manage.py ./
RUN pip install . && mkdir -p "$ZENSKAR_DATA_DIR" \
 && SECRET_KEY=build DATABASE_URL=postgresql://build@localhost/build REDIS_URL=redis://localhost \
    python manage.py collectstatic --noinput \
 && useradd --system --home /app zenskar && chown -R zenskar "$ZENSKAR_DATA_DIR"

USER zenskar
EXPOSE 8000
CMD ["gunicorn", "zenskar.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--worker-class", "gthread", "--threads", "4", "--access-logfile", "-", "--logger-class", "zenskar.core.access_log.RedactingLogger"]
