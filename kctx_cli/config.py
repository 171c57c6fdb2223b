"""Project configuration: ``kctx.toml`` (or ``[tool.kctx]`` in pyproject.toml), named
environments and ``KCTX_*`` overrides (SPEC §2).

    [project]
    models = "models"            # the package kctx imports
    migrations = "migrations"
    default_partitions = 3
    default_replicas = 1
    default_compatibility = "BACKWARD"
    avro_namespace = "com.example.shop"

    [env.dev]                    # `--env dev`, or KCTX_ENV=dev; "default" when not given
    bootstrap_servers = "127.0.0.1:9092"
    schema_registry_url = "http://127.0.0.1:8081"
    ksqldb_url = "http://127.0.0.1:8088"

    [env.prod.kafka]             # librdkafka properties, passed through (SASL/SSL)
    "security.protocol" = "SASL_SSL"
    "sasl.password" = "${KAFKA_PASSWORD}"   # ${VAR} reads the environment

Precedence: KCTX_* variables > the chosen environment > [project] defaults.
"""
from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kctx_cli.errors import ConfigError

CONFIG_FILE = "kctx.toml"
COMPAT_LEVELS = (
    "NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE",
)

PROJECT_KEYS = {
    "models": str,
    "migrations": str,
    "default_partitions": int,
    "default_replicas": int,
    "default_compatibility": str,
    "avro_namespace": str,
}
# keys of an [env.NAME] table; the three addresses are the KCTX_* variables tests/stack/up prints
ENV_KEYS = {
    "bootstrap_servers": str,
    "schema_registry_url": str,
    "ksqldb_url": str,
    "kafka": dict,
    "schema_registry": dict,
    "ksqldb": dict,
}
from kctx_cli.redact import SECRET_WORDS, is_secret_key  # noqa: E402,F401 - the one secret rule (kctx_cli.redact)


@dataclass
class Config:
    """The resolved configuration (``load_config``; see the module for the file): ``root`` the
    project directory, ``source`` the file read (None: defaults only), ``env_name`` the
    chosen environment and ``environments`` all defined ones; the [project] keys; the three
    server addresses (None when not configured); ``kafka`` / ``schema_registry`` / ``ksqldb``
    the client properties passed through (names as those clients spell them); ``defines``
    the ``--define NAME=VALUE`` variables of migration files."""
    root: Path
    source: Path | None  # the file read, None when running on defaults
    env_name: str
    models: str = "models"
    migrations: str = "migrations"
    default_partitions: int = 1
    default_replicas: int = 1
    default_compatibility: str = "BACKWARD"
    avro_namespace: str | None = None
    bootstrap_servers: str | None = None
    schema_registry_url: str | None = None
    ksqldb_url: str | None = None
    kafka: dict[str, str] = field(default_factory=dict)
    schema_registry: dict[str, str] = field(default_factory=dict)
    ksqldb: dict[str, str] = field(default_factory=dict)
    environments: tuple[str, ...] = ()
    # variables of the migration files (``--define NAME=VALUE``): DEFINE lines at the top of
    # each file, as ksql-migrations' ``apply --define`` (kctx_cli.ksql.session)
    defines: dict[str, str] = field(default_factory=dict)

    @property
    def models_dir(self) -> Path:
        """The models package's directory: ``root`` / ``models`` with dots as path separators."""
        return self.root / self.models.replace(".", "/")

    @property
    def migrations_dir(self) -> Path:
        """The migrations directory: ``root`` / ``migrations``."""
        return self.root / self.migrations

    def kafka_config(self) -> dict[str, str]:
        """librdkafka settings for confluent-kafka clients."""
        if not self.bootstrap_servers:
            raise ConfigError(
                "no Kafka bootstrap servers configured: set bootstrap_servers in kctx.toml "
                f"[env.{self.env_name}] or KCTX_BOOTSTRAP_SERVERS"
            )
        conf = {"bootstrap.servers": self.bootstrap_servers}
        conf.update(self.kafka)
        return conf

    def registry_config(self) -> dict[str, str]:
        """Settings for confluent_kafka.schema_registry.SchemaRegistryClient."""
        if not self.schema_registry_url:
            raise ConfigError(
                "no Schema Registry URL configured: set schema_registry_url in kctx.toml "
                f"[env.{self.env_name}] or KCTX_SCHEMA_REGISTRY_URL"
            )
        conf = {"url": self.schema_registry_url}
        conf.update(self.schema_registry)
        return conf

    def require_ksqldb(self) -> str:
        """The ksqlDB URL; ConfigError naming where to set it when none is configured."""
        if not self.ksqldb_url:
            raise ConfigError(
                "no ksqlDB URL configured: set ksqldb_url in kctx.toml "
                f"[env.{self.env_name}] or KCTX_KSQLDB_URL"
            )
        return self.ksqldb_url

    def redacted(self) -> dict[str, Any]:
        """What `kctx config show` prints: every value, secrets replaced by *** by
        kctx_cli.redact (secret keys, URL userinfo in every form, configured values)."""
        from kctx_cli.redact import redact_mapping, redact_obj, redact_url

        return redact_obj({
            "root": str(self.root),
            "source": str(self.source) if self.source else None,
            "env": self.env_name,
            "environments": list(self.environments),
            "project": {k: getattr(self, k) for k in PROJECT_KEYS},
            "bootstrap_servers": redact_url(self.bootstrap_servers),
            "schema_registry_url": redact_url(self.schema_registry_url),
            "ksqldb_url": redact_url(self.ksqldb_url),
            "kafka": redact_mapping(self.kafka),
            "schema_registry": redact_mapping(self.schema_registry),
            "ksqldb": redact_mapping(self.ksqldb),
        })


def is_secret(key: str) -> bool:
    """Whether a configuration key carries a secret (kctx_cli.redact.is_secret_key)."""
    return is_secret_key(key)


def find_root(start: Path) -> tuple[Path, Path | None]:
    """The nearest directory holding kctx.toml or a pyproject.toml with [tool.kctx]."""
    start = start.resolve()
    for d in (start, *start.parents):
        if (d / CONFIG_FILE).is_file():
            return d, d / CONFIG_FILE
        pp = d / "pyproject.toml"
        if pp.is_file() and "[tool.kctx" in pp.read_text(encoding="utf-8", errors="replace"):
            return d, pp
    return start, None


def _read_toml(path: Path) -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path.name}: invalid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        line = open(path, "rb").read()[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path.name}:{line}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x}); "
                          f"TOML files are UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    if path.name == "pyproject.toml":
        data = data.get("tool", {}).get("kctx", {})
    return data


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _interpolate(value: Any, where: str, environ) -> Any:
    if isinstance(value, str):
        def sub(m):
            name = m.group(1)
            if name not in environ:
                raise ConfigError(f"{where}: environment variable {name} is not set")
            return environ[name]

        return _VAR.sub(sub, value)
    return value


def _check_table(data: dict, allowed: dict, where: str, fname: str) -> None:
    for k, v in data.items():
        if k not in allowed:
            raise ConfigError(f"{fname}: unknown key '{k}' in {where} (known: {', '.join(sorted(allowed))})")
        typ = allowed[k]
        if typ is int and (not isinstance(v, int) or isinstance(v, bool)):
            raise ConfigError(f"{fname}: {where}.{k} must be an integer, got {v!r}")
        if typ is str and not isinstance(v, str):
            raise ConfigError(f"{fname}: {where}.{k} must be a string, got {v!r}")
        if typ is dict and not isinstance(v, dict):
            raise ConfigError(f"{fname}: {where}.{k} must be a table")


def load_config(
    project_dir: str | Path | None = None,
    env: str | None = None,
    environ: dict[str, str] | None = None,
) -> Config:
    """Read the configuration for the project at (or above) ``project_dir``."""
    environ = os.environ if environ is None else environ
    start = Path(project_dir or environ.get("KCTX_PROJECT") or os.getcwd())
    if project_dir and not start.is_dir():
        raise ConfigError(f"project directory {start} does not exist")
    root, source = find_root(start)
    data = _read_toml(source) if source else {}
    fname = source.name if source else CONFIG_FILE

    for k in data:
        if k not in ("project", "env"):
            raise ConfigError(f"{fname}: unknown table or key '{k}' (known: project, env)")
    project = data.get("project", {})
    envs = data.get("env", {})
    if not isinstance(project, dict) or not isinstance(envs, dict):
        raise ConfigError(f"{fname}: [project] and [env.NAME] must be tables")
    _check_table(project, PROJECT_KEYS, "[project]", fname)

    env_name = env or environ.get("KCTX_ENV") or "default"
    if env_name not in envs and (env or environ.get("KCTX_ENV")) and env_name != "default":
        known = ", ".join(sorted(envs)) or "none defined"
        raise ConfigError(f"unknown environment '{env_name}' (known: {known})")
    env_data = envs.get(env_name, {})
    if not isinstance(env_data, dict):
        raise ConfigError(f"{fname}: [env.{env_name}] must be a table")
    _check_table(env_data, ENV_KEYS, f"[env.{env_name}]", fname)

    cfg = Config(root=root, source=source, env_name=env_name, environments=tuple(sorted(envs)))
    for k, v in project.items():
        setattr(cfg, k, _interpolate(v, f"[project].{k}", environ))
    for k, v in env_data.items():
        if isinstance(v, dict):
            setattr(cfg, k, {str(kk): str(_interpolate(vv, f"[env.{env_name}.{k}].{kk}", environ))
                             for kk, vv in v.items()})
        else:
            setattr(cfg, k, _interpolate(v, f"[env.{env_name}].{k}", environ))

    _apply_environ(cfg, environ)
    from kctx_cli import redact

    redact.register_config(cfg)

    level = cfg.default_compatibility.upper()
    if level not in COMPAT_LEVELS:
        raise ConfigError(
            f"{fname}: default_compatibility '{cfg.default_compatibility}' is not one of {', '.join(COMPAT_LEVELS)}"
        )
    cfg.default_compatibility = level
    if cfg.default_partitions < 1 or cfg.default_replicas < 1:
        raise ConfigError(f"{fname}: default_partitions and default_replicas must be ≥ 1")
    return cfg


def _apply_environ(cfg: Config, environ) -> None:
    """KCTX_<KEY> overrides every key; KCTX_KAFKA_<PROP> sets a librdkafka property
    (underscores become dots: KCTX_KAFKA_SASL_PASSWORD -> sasl.password), likewise
    KCTX_SCHEMA_REGISTRY_<PROP> and KCTX_KSQLDB_<PROP>."""
    for key, typ in {**PROJECT_KEYS, **ENV_KEYS}.items():
        if typ is dict:
            continue
        var = "KCTX_" + key.upper()
        if var in environ:
            val = environ[var]
            if typ is int:
                try:
                    val = int(val)
                except ValueError:
                    raise ConfigError(f"{var} must be an integer, got {val!r}") from None
            setattr(cfg, key, val)
    prefixes = {"KCTX_KAFKA_": "kafka", "KCTX_SCHEMA_REGISTRY_": "schema_registry", "KCTX_KSQLDB_": "ksqldb"}
    for var, val in environ.items():
        for prefix, attr in prefixes.items():
            if var.startswith(prefix) and var not in ("KCTX_SCHEMA_REGISTRY_URL", "KCTX_KSQLDB_URL"):
                # every client property is dotted: KCTX_SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO ->
                # basic.auth.user.info (confluent's SchemaRegistryClient refuses an unknown
                # key), KCTX_KSQLDB_SSL_CA_LOCATION -> ssl.ca.location
                prop = var[len(prefix):].lower().replace("_", ".")
                if prop:
                    getattr(cfg, attr)[prop] = val
