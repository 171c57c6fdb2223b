"""Shared fixtures: the real stack's addresses, unique names per test, the ../shared folder.

Stack tests take `stack` (all three services) or only the one they need
(`bootstrap_servers`, `schema_registry_url`, `ksqldb_url`). The addresses come from
KCTX_BOOTSTRAP_SERVERS / KCTX_SCHEMA_REGISTRY_URL / KCTX_KSQLDB_URL, as set by
`eval "$(tests/stack/up)"` (.ci/run does this), or else from the addresses file that
tests/stack/up leaves in .stack/. A service that does not answer FAILS the test, in CI and
locally: a stack test is never skipped. Tests using these fixtures get the `stack` marker,
so `python -m pytest -m "not stack"` runs everything else.
"""
from __future__ import annotations

import os
import re
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
STACK_DIR = Path(os.environ.get("KCTX_STACK_DIR") or REPO / ".stack")
ADDRESS_VARS = ("KCTX_BOOTSTRAP_SERVERS", "KCTX_SCHEMA_REGISTRY_URL", "KCTX_KSQLDB_URL")
STACK_FIXTURES = {"stack", "bootstrap_servers", "schema_registry_url", "ksqldb_url"}
START_HINT = 'start it with: eval "$(tests/stack/up)"'


@dataclass(frozen=True)
class Stack:
    bootstrap_servers: str
    schema_registry_url: str  # the Confluent Schema Registry
    ksqldb_url: str


def pytest_collection_modifyitems(config, items):
    for item in items:
        if STACK_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.stack)


@pytest.fixture(scope="session")
def stack_addresses() -> Stack:
    """The addresses (not checked). Also exported to os.environ, so kctx run in-process or
    as a subprocess reaches the same stack."""
    values = {k: os.environ[k] for k in ADDRESS_VARS if os.environ.get(k)}
    if len(values) < len(ADDRESS_VARS):
        values = {**_read_addresses_file(), **values}
    missing = [k for k in ADDRESS_VARS if not values.get(k)]
    if missing:
        pytest.fail(f"the test stack is not configured ({', '.join(missing)} unset and no "
                    f"{STACK_DIR / 'addresses.env'}); {START_HINT}", pytrace=False)
    for key, value in values.items():
        os.environ.setdefault(key, value)
    return Stack(values["KCTX_BOOTSTRAP_SERVERS"], values["KCTX_SCHEMA_REGISTRY_URL"], values["KCTX_KSQLDB_URL"])


def _read_addresses_file() -> dict[str, str]:
    try:
        lines = (STACK_DIR / "addresses.env").read_text().splitlines()
    except OSError:
        return {}
    return dict(line.split("=", 1) for line in lines if "=" in line)


_reachable: dict[str, str | None] = {}  # service -> error (None when it answered), per session


def _require(service: str, probe) -> None:
    if service not in _reachable:
        _reachable[service] = probe()
    if _reachable[service]:
        pytest.fail(f"{service} is not reachable: {_reachable[service]}; {START_HINT}", pytrace=False)


def _probe_kafka(bootstrap: str) -> str | None:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    try:
        AdminClient({"bootstrap.servers": bootstrap, "log_level": 0}).list_topics(timeout=10)
    except KafkaException as exc:
        return f"{bootstrap}: {exc.args[0].str() if exc.args else exc}"
    return None


def _probe_http(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=10):
            return None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return f"GET {url}: {exc}"


@pytest.fixture(scope="session")
def bootstrap_servers(stack_addresses) -> str:
    _require("Kafka", lambda: _probe_kafka(stack_addresses.bootstrap_servers))
    return stack_addresses.bootstrap_servers


@pytest.fixture(scope="session")
def schema_registry_url(stack_addresses) -> str:
    _require("the schema registry", lambda: _probe_http(stack_addresses.schema_registry_url + "/subjects"))
    return stack_addresses.schema_registry_url


@pytest.fixture(scope="session")
def ksqldb_url(stack_addresses) -> str:
    _require("ksqlDB", lambda: _probe_http(stack_addresses.ksqldb_url + "/info"))
    return stack_addresses.ksqldb_url


@pytest.fixture(scope="session")
def stack(bootstrap_servers, schema_registry_url, ksqldb_url) -> Stack:
    """All three services, each checked to answer."""
    return Stack(bootstrap_servers, schema_registry_url, ksqldb_url)


@pytest.fixture
def unique_name(request) -> str:
    """A prefix no other test (or run) uses, valid as a topic, a subject and a ksqlDB name:
    lower-case letters, digits and '_', starting with a letter; e.g. `t_produce_consume_3f9a1c`.
    Build names from it: f"{unique_name}_orders".

    After a test that used ksqlDB, the streams and tables named with the prefix are dropped
    with their topics (their queries terminated first): on the real ksqlDB every persistent
    query left running costs CPU for the rest of the run."""
    slug = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower().removeprefix("test_"))[:24].strip("_")
    name = "_".join(filter(None, ["t", slug, secrets.token_hex(3)]))
    yield name
    if {"stack", "ksqldb_url"} & set(request.fixturenames) and os.environ.get("KCTX_KSQLDB_URL"):
        from tests.ksqldb_helpers import drop_prefixed

        drop_prefixed(os.environ["KCTX_KSQLDB_URL"], name.upper())


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared beside the repo (ksqlDB docs, corpora): read in place, never copied."""
    if not SHARED.is_dir():
        pytest.fail(f"{SHARED} is missing: the shared material must sit beside the repo", pytrace=False)
    return SHARED
