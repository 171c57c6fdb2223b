# kctx for CI/CD: `docker build -t kctx .` then, in a project directory,
#   docker run --rm -v "$PWD:/project" kctx validate
#   docker run --rm -v "$PWD:/project" -e KCTX_BOOTSTRAP_SERVERS=... kctx migrate
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY kctx_cli ./kctx_cli
# wheels only: confluent-kafka, fastavro and rocksdict ship manylinux wheels, so the
# image needs no compiler
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels \
    && useradd --create-home --uid 10001 kctx
USER kctx
WORKDIR /project
ENTRYPOINT ["kctx"]
CMD ["--help"]
