# syntax=docker/dockerfile:1
# One image for every Wharf service: `docker run IMAGE run auth|registry|storage|indexer|gateway`.
# Build: docker build -t wharf:local .
#
# Health checks are per service (the image cannot know which service a container runs); the probes used by
# docker-compose.yml and k8s/ are `wharf health <service>` (readiness: the service's database, RabbitMQ and S3
# bucket, then the service itself) and `wharf health <service> --live` / GET /healthz (liveness).
# Database migrations: `docker run IMAGE migrate all` (compose's `migrate` one-shot, the k8s Job wharf-migrate).

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/wharf
WORKDIR /src
# .dockerignore lets only the files needed to build the package into the context; requirements/runtime.txt is
# the lock (the exact versions `make serve` and CI install), so an image built on any day holds the same code
COPY . /src
RUN /opt/wharf/bin/pip install -c requirements/runtime.txt .

FROM python:3.11-slim
ENV PATH=/opt/wharf/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    WHARF_MODE=distributed \
    HOME=/home/wharf
RUN groupadd --system --gid 10001 wharf \
 && useradd --system --uid 10001 --gid 10001 --home-dir /home/wharf --create-home \
        --shell /usr/sbin/nologin wharf
COPY --from=build /opt/wharf /opt/wharf
WORKDIR /home/wharf
# numeric so that Kubernetes' runAsNonRoot can verify it
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["wharf"]
CMD ["--help"]
