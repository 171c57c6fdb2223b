"""The CLI shell (lazy imports, exit codes, errors) and configuration loading."""
from __future__ import annotations

import json
import subprocess
import sys

from kctx_cli.config import load_config
from tests.helpers import REPO, make_project, run_kctx

HEAVY = ("sqlglot", "confluent_kafka", "fastavro", "rocksdict", "requests", "rich")


def test_help_imports_nothing_heavy():
    code = (
        "import sys; sys.argv=['kctx','--help']\n"
        "from kctx_cli import cli\n"
        "try:\n    cli.app(standalone_mode=False)\nexcept SystemExit: pass\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert res.returncode == 0, res.stderr
    # typer renders help with rich; everything else must stay unimported
    assert res.stdout.strip().splitlines()[-1] in ("[]", "['rich']")


def test_help_and_version():
    res = run_kctx("--help")
    assert res.returncode == 0
    for cmd in ("init", "validate", "show", "ksql", "schema", "config"):
        assert cmd in res.stdout
    res = run_kctx("--version")
    assert res.returncode == 0 and res.stdout.startswith("kctx ")


def test_usage_error_exit_code():
    res = run_kctx("no-such-command")
    assert res.returncode == 1  # an error; 2 only ever means "differences found"
    assert res.stderr.strip().splitlines() == ["error: No such command 'no-such-command'. (see 'kctx --help')"]
    # issue 10's example: a mistyped option of the drift check is an error, not a difference
    res = run_kctx("plan", "--detailed-exitcod")
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr.strip().splitlines() == [
        "error: No such option: --detailed-exitcod (Possible options: --detailed-exitcode) (see 'kctx plan --help')"]


def _commands():
    """Every command path of the CLI ('plan', 'dlq replay', ...), read from the Typer app."""
    import typer.main

    from kctx_cli.cli import app

    def walk(cmd, path):
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                yield from walk(sub, path + [name])
        elif path:
            yield path

    return list(walk(typer.main.get_command(app), []))


def _main(argv, monkeypatch, capsys) -> tuple[int, str, str]:
    import pytest

    from kctx_cli import cli

    monkeypatch.setattr(sys, "argv", ["kctx", *argv])
    monkeypatch.setenv("COLUMNS", "300")
    with pytest.raises(SystemExit) as exc:
        cli.main()
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def test_every_command_exits_1_with_one_line_on_a_usage_mistake(monkeypatch, capsys):
    commands = _commands()
    numeric = []
    assert len(commands) >= 20 and ["plan"] in commands and ["dlq", "replay"] in commands
    for path in commands:
        name = " ".join(path)
        code, out, err = _main([*path, "--no-such-optin"], monkeypatch, capsys)
        assert (code, out) == (1, ""), (name, code, out, err)
        assert err.strip().splitlines() == [f"error: No such option: --no-such-optin (see 'kctx {name} --help')"], name
        # a value that is not a number for every numeric option
        import typer.main

        from kctx_cli.cli import app

        cmd = typer.main.get_command(app)
        for part in path:
            cmd = cmd.commands[part]
        for param in cmd.params:
            if getattr(param, "opts", None) and param.opts[0].startswith("--") and _numeric(param):
                numeric.append(f"{name} {param.opts[0]}")
                code, out, err = _main([*path, param.opts[0], "many"], monkeypatch, capsys)
                assert code == 1 and len(err.strip().splitlines()) == 1, (name, param.opts[0], err)
                assert "Invalid value for" in err and "Traceback" not in err
    assert {"tail --max", "migrate --lock-timeout"} <= set(numeric)


def _numeric(param) -> bool:
    """Does the option take a number? (Typer >= 0.16 keeps the annotation, click the type.)"""
    desc = getattr(param, "type_descriptor", None)
    if desc is not None:
        return desc.annotation in (int, float)
    return getattr(getattr(param, "type", None), "name", "") in ("integer", "float")


def test_missing_argument_and_bare_group_exit_1(monkeypatch, capsys):
    code, out, err = _main(["tail"], monkeypatch, capsys)
    assert code == 1 and err.strip().splitlines() == ["error: Missing argument 'topic'. (see 'kctx tail --help')"]
    code, out, err = _main(["migrate", "--to"], monkeypatch, capsys)
    assert code == 1 and err.strip().splitlines() == ["error: Option '--to' requires an argument."]
    # a group without its command shows its help (on stderr) and is an error
    code, out, err = _main(["dlq"], monkeypatch, capsys)
    assert code == 1 and out == "" and "replay" in err and "Usage: kctx dlq" in err


def test_debug_shows_traceback(tmp_path):
    make_project(tmp_path, {}, toml="[project\n")
    res = run_kctx("validate", cwd=tmp_path)
    assert "Traceback" not in res.stderr
    res = run_kctx("--debug", "validate", cwd=tmp_path)
    assert res.returncode != 0
    assert "Traceback" in res.stderr and "ConfigError" in res.stderr


def test_config_show_redacts_secrets(tmp_path):
    toml = """
    [env.default]
    bootstrap_servers = "b:9092"
    schema_registry_url = "https://user:hunter2@registry:8081"
    ksqldb_url = "https://tok-only-4711@ksqldb:8088"
    [env.default.kafka]
    "sasl.username" = "svc"
    "sasl.password" = "${MY_PASS}"
    "ssl.key.pem" = "-----BEGIN PRIVATE KEY-----pemsecret-----END PRIVATE KEY-----"
    "sasl.oauthbearer.config" = "scope=x clientSecret=oauthsecret"
    [env.default.schema_registry]
    "basic.auth.user.info" = "u:topsecret"
    """
    make_project(tmp_path, {}, toml=toml)
    # the file's addresses, not the running stack's
    no_stack = {"KCTX_BOOTSTRAP_SERVERS": None, "KCTX_SCHEMA_REGISTRY_URL": None, "KCTX_KSQLDB_URL": None}
    res = run_kctx("config", "show", "--output", "json", cwd=tmp_path,
                   env={**no_stack, "MY_PASS": "s3cr3t-value", "KCTX_KAFKA_SSL_KEY_PASSWORD": "kp"})
    assert res.returncode == 0, res.stderr
    for secret in ("s3cr3t-value", "hunter2", "topsecret", "kp\"", "pemsecret", "oauthsecret", "tok-only-4711"):
        assert secret not in res.stdout
    data = json.loads(res.stdout)
    assert data["kafka"] == {"sasl.username": "svc", "sasl.password": "***", "ssl.key.pem": "***",
                             "sasl.oauthbearer.config": "***", "ssl.key.password": "***"}
    assert data["schema_registry_url"] == "https://***@registry:8081"
    assert data["ksqldb_url"] == "https://***@ksqldb:8088"
    assert data["schema_registry"] == {"basic.auth.user.info": "***"}
    text = run_kctx("config", "show", cwd=tmp_path, env={**no_stack, "MY_PASS": "s3cr3t-value"})
    assert text.returncode == 0 and "s3cr3t-value" not in text.stdout and "***" in text.stdout


def test_environments_and_overrides(tmp_path):
    toml = """
    [project]
    default_partitions = 6
    [env.default]
    bootstrap_servers = "local:9092"
    [env.prod]
    bootstrap_servers = "prod:9092"
    ksqldb_url = "https://ksql.prod"
    """
    make_project(tmp_path, {}, toml=toml)
    assert load_config(tmp_path, environ={}).bootstrap_servers == "local:9092"
    prod = load_config(tmp_path, "prod", environ={})
    assert (prod.bootstrap_servers, prod.ksqldb_url, prod.default_partitions) == ("prod:9092", "https://ksql.prod", 6)
    assert load_config(tmp_path, environ={"KCTX_ENV": "prod"}).bootstrap_servers == "prod:9092"
    over = load_config(tmp_path, "prod", environ={
        "KCTX_BOOTSTRAP_SERVERS": "x:1", "KCTX_DEFAULT_PARTITIONS": "2", "KCTX_KAFKA_SECURITY_PROTOCOL": "SSL"})
    assert (over.bootstrap_servers, over.default_partitions) == ("x:1", 2)
    assert over.kafka_config() == {"bootstrap.servers": "x:1", "security.protocol": "SSL"}


def test_pyproject_tool_section(tmp_path):
    make_project(tmp_path, {}, toml=None)
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[tool.kctx.project]\nmodels = "models"\ndefault_replicas = 3\n'
    )
    cfg = load_config(tmp_path / "models", environ={})  # found by searching upwards
    assert cfg.root == tmp_path.resolve() and cfg.default_replicas == 3


def test_missing_addresses_are_clear(tmp_path):
    make_project(tmp_path, {}, toml="[project]\n")
    cfg = load_config(tmp_path, environ={})
    import pytest

    from kctx_cli.errors import ConfigError

    with pytest.raises(ConfigError, match=r"no Kafka bootstrap servers configured: set bootstrap_servers in kctx.toml \[env.default\] or KCTX_BOOTSTRAP_SERVERS"):
        cfg.kafka_config()
