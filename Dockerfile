# The tiepdan image: orchestrator (`tiepdan serve`), workers (`tiepdan worker`) and media agent
# (`tiepdan media`) all run from it; docker-compose.yml picks the command.
# The join page's script: livekit-client bundled by esbuild (no CDN at run time).
FROM node:20-bookworm-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/src ./src
RUN mkdir -p /orchestrator/web/static && npm run build

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg espeak-ng \
    && rm -rf /var/lib/apt/lists/*

# Only what the package is built from, so local state (.venv, .tiepdan, .git) stays out.
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY config ./config
COPY orchestrator ./orchestrator
COPY media ./media
COPY transcription ./transcription
COPY storage ./storage
COPY --from=web /orchestrator/web/static/join.js ./orchestrator/web/static/join.js
RUN pip install -c constraints.txt '.[model]'

RUN useradd --system --create-home --home-dir /var/lib/tiepdan --shell /usr/sbin/nologin tiepdan
USER tiepdan
WORKDIR /var/lib/tiepdan
ENV TIEPDAN_PATHS__STATE_DIR=/var/lib/tiepdan \
    TIEPDAN_WEB__HOST=0.0.0.0

EXPOSE 8470
CMD ["tiepdan", "serve"]
