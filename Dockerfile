# llmvet: the guardrail proxy, as the README runs it (`llmvet serve`), on a slim Python base.
#   docker build -t llmvet .
#   docker run -p 8080:8080 -e LLMVET_UPSTREAM=https://api.openai.com/v1 llmvet
# Embedded SQLite store under /home/llmvet/.llmvet (mount a volume there to keep it), or
# -e LLMVET_STORE=redis://redis:6379/0 for several replicas. The audit journal (records not yet in the
# store, replayed after a crash) goes to the user state folder, or, with the deploy kit,
# LLMVET_AUDIT_JOURNAL=/var/lib/llmvet/journal on a volume that outlives the container. For the consistency validator, build
# with --build-arg EXTRAS=embeddings (adds CPU torch + sentence-transformers; much larger image).
FROM python:3.11-slim

ARG EXTRAS=""
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN if [ -n "$EXTRAS" ]; then pip install "torch==2.13.0" --index-url https://download.pytorch.org/whl/cpu; fi \
 && pip install ".${EXTRAS:+[$EXTRAS]}" \
 && useradd --create-home --uid 10001 --shell /usr/sbin/nologin llmvet \
 && install -d -o llmvet -g llmvet /var/lib/llmvet/journal

USER llmvet
WORKDIR /home/llmvet
ENV LLMVET_HOST=0.0.0.0 LLMVET_PORT=8080
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status != 200)"]
CMD ["llmvet", "serve"]
