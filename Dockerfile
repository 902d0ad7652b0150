# The environment of a Ray node for `python -m ferpipe sweep NAME --ray` (docs/cluster.md): the pinned
# requirements (Ray and DVC among them) and git. The project itself is not in the image: each task clones
# the sweep's commit from the git remote, and ferpipe's task code comes from the driver.
#   docker build -t ferpipe-node .
# On GPU nodes, train with `-S backend=torch` (the torch wheel brings CUDA; the pinned TensorFlow is CPU-only).
FROM python:3.11-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends git openssh-client \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/ferpipe
COPY requirements.txt requirements-nodeps.txt ./
RUN pip install --no-cache-dir --disable-pip-version-check -r requirements.txt \
    && pip install --no-cache-dir --disable-pip-version-check --no-deps -r requirements-nodeps.txt

# Clones and the node's shared DVC cache go here: mount fast local disk on it.
ENV FERPIPE_RAY_WORKDIR=/scratch
RUN mkdir -p /scratch
