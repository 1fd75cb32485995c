# The tiepdan images: orchestrator (`tiepdan serve`), workers (`tiepdan worker`), beat and media
# agent (`tiepdan media`) all run from one; docker-compose.yml picks the command.
#   target cpu (the default, last stage): python slim with ffmpeg; Whisper on the CPU
#   target gpu: NVIDIA's CUDA 12.8 runtime with cuDNN 9, what CTranslate2 4.8's wheels (faster-
#               whisper's engine) are built against, for the `transcribe` queue on a GPU
# Neither carries the demo's espeak-ng nor the local stack's SeaweedFS (the `local-stack` extra).

# The join page's script: livekit-client bundled by esbuild (no CDN at run time).
FROM node:20.19.4-bookworm-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/src ./src
RUN mkdir -p /orchestrator/web/static && npm run build

# Only what the package is built from, so local state (.venv, .tiepdan, .git) stays out.
FROM scratch AS src
COPY pyproject.toml constraints.txt README.md /src/
COPY config /src/config
COPY orchestrator /src/orchestrator
COPY media /src/media
COPY transcription /src/transcription
COPY storage /src/storage
COPY --from=web /orchestrator/web/static/join.js /src/orchestrator/web/static/join.js

FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04 AS gpu
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/tiepdan/bin:$PATH
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv ffmpeg \
    && rm -rf /var/lib/apt/lists/*
COPY --from=src /src /src
RUN python3 -m venv /opt/tiepdan \
    && pip install -c /src/constraints.txt '/src[model]'
RUN useradd --system --create-home --home-dir /var/lib/tiepdan --shell /usr/sbin/nologin tiepdan
USER tiepdan
WORKDIR /var/lib/tiepdan
ENV TIEPDAN_PATHS__STATE_DIR=/var/lib/tiepdan
CMD ["tiepdan", "worker", "--queues", "transcribe"]

FROM python:3.11.13-slim-bookworm AS cpu
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*
COPY --from=src /src /src
RUN pip install -c /src/constraints.txt '/src[model]'
RUN useradd --system --create-home --home-dir /var/lib/tiepdan --shell /usr/sbin/nologin tiepdan
USER tiepdan
WORKDIR /var/lib/tiepdan
ENV TIEPDAN_PATHS__STATE_DIR=/var/lib/tiepdan \
    TIEPDAN_WEB__HOST=0.0.0.0
EXPOSE 8470
CMD ["tiepdan", "serve"]
