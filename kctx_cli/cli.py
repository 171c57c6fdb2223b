"""The `kctx` command line: a thin Typer layer over the library functions.

Each command imports its implementation inside the function body (as pip does), so
`kctx --help` loads only Typer. Errors: a ``KctxError`` becomes one red line and its
exit code; anything else is a bug and shows a traceback with ``--debug`` only.

Shell completion is Typer's (its scripts and completion classes for bash, zsh, fish and
PowerShell), loaded only when it is used: ``--install-completion``, ``--show-completion``,
or the shell asking for completions through ``_KCTX_COMPLETE``.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import List, Optional

import typer

COMPLETE_VAR = "_KCTX_COMPLETE"  # click's name for prog "kctx": the shell scripts set it
SHELLS = ("bash", "zsh", "fish", "powershell", "pwsh")  # what Typer's completion supports

# Plain (click-style) help: Typer's rich help imports rich.markdown and costs ~100 ms
# on every `kctx --help`; command output still uses rich.
PLAIN = {"rich_markup_mode": None}

app = typer.Typer(
    name="kctx",
    **PLAIN,
    help="Kafka topics, Schema Registry subjects and ksqlDB streams/tables as code.",
    no_args_is_help=True,
    add_completion=False,  # Typer's would import its completion at start-up: see _global
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
show_app = typer.Typer(**PLAIN, help="Render KSQL, Avro or the plan for the models.", no_args_is_help=True)
ksql_app = typer.Typer(**PLAIN, help="Check and format hand-written KSQL files.", no_args_is_help=True)
schema_app = typer.Typer(**PLAIN, help="Offline Avro schema tools.", no_args_is_help=True)
config_app = typer.Typer(**PLAIN, help="Inspect the configuration.", no_args_is_help=True)
dlq_app = typer.Typer(**PLAIN, help="Dead-letter queues: list, show, replay.", no_args_is_help=True)
cache_app = typer.Typer(**PLAIN, help="A local RocksDB cache of a table's topic.", no_args_is_help=True)
app.add_typer(show_app, name="show")
app.add_typer(ksql_app, name="ksql")
app.add_typer(schema_app, name="schema")
app.add_typer(config_app, name="config")
app.add_typer(dlq_app, name="dlq")
app.add_typer(cache_app, name="cache")


class State:
    """Global options, set by the callback and read by commands."""

    debug = False
    env: Optional[str] = None
    project: Optional[Path] = None


# ---------------------------------------------------------------------------
# shell completion (Typer's, imported only here)
# ---------------------------------------------------------------------------


def _completion_shell() -> str:
    """The shell to complete for: the one kctx runs in, found as Typer finds it (shellingham
    walks up the parent processes), else the login shell named by ``$SHELL``. Raises
    ``KctxError`` when neither is one Typer supports (``SHELLS``)."""
    detected = None
    try:
        import shellingham

        detected = shellingham.detect_shell()[0]
    except Exception:  # ShellDetectionFailure, no /proc and no ps, no shellingham: try $SHELL
        pass
    login = os.path.basename(os.environ.get("SHELL", "")).lower()
    for shell in (detected, login):
        if shell in SHELLS:
            return shell
    from kctx_cli.errors import KctxError

    raise KctxError(f"cannot complete for this shell ({detected or login or 'none found'}); "
                    f"completion supports {', '.join(SHELLS)}: run kctx from one of them or set SHELL")


def _install_completion(ctx: typer.Context, value: bool) -> None:
    """``--install-completion``: Typer's installer (the script under ~/.bash_completions,
    ~/.zfunc, fish's completions folder or the PowerShell profile, sourced from the rc file)."""
    if not value or ctx.resilient_parsing:
        return
    from typer.completion import install

    shell, path = install(shell=_completion_shell(), prog_name="kctx", complete_var=COMPLETE_VAR)
    typer.secho(f"{shell} completion installed in {path}", fg="green")
    typer.echo("Completion will take effect once you restart the terminal")
    raise typer.Exit(0)


def _show_completion(ctx: typer.Context, value: bool) -> None:
    """``--show-completion``: print Typer's completion script for the current shell."""
    if not value or ctx.resilient_parsing:
        return
    from typer.completion import get_completion_script

    typer.echo(get_completion_script(prog_name="kctx", complete_var=COMPLETE_VAR, shell=_completion_shell()))
    raise typer.Exit(0)


def _complete_env(ctx: typer.Context, incomplete: str) -> List[str]:
    """Values for ``--env``: the [env.NAME] tables of the project's kctx.toml (or
    pyproject.toml [tool.kctx]); nothing when it cannot be read."""
    try:
        from kctx_cli.config import find_root

        project = ctx.params.get("project") or os.environ.get("KCTX_PROJECT") or "."
        _root, source = find_root(Path(project))
        if source is None:
            return []
        try:
            import tomllib
        except ImportError:  # Python 3.10
            import tomli as tomllib
        with open(source, "rb") as fh:
            data = tomllib.load(fh)
        if source.name == "pyproject.toml":
            data = data.get("tool", {}).get("kctx", {})
        return sorted(name for name in data.get("env", {}) if name.startswith(incomplete))
    except Exception:  # completion must never fail loudly in the middle of a command line
        return []


OutputOpt = typer.Option("text", "--output", "-o", help="text or json")
DefineOpt = typer.Option(None, "--define", "-d", metavar="NAME=VALUE",
                         help="a variable of the migration files, as a DEFINE line at the top of each (repeatable)")


@app.callback()
def _global(
    env: Optional[str] = typer.Option(None, "--env", "-e", help="named environment from kctx.toml (or KCTX_ENV)",
                                      autocompletion=_complete_env),
    project: Optional[Path] = typer.Option(None, "--project", "-p", help="project directory (default: search upwards from here)"),
    debug: bool = typer.Option(False, "--debug", help="show tracebacks"),
    version: bool = typer.Option(False, "--version", help="print the version and exit", is_eager=True,
                                 callback=lambda v: _print_version() if v else None),
    install_completion: bool = typer.Option(False, "--install-completion", is_eager=True, callback=_install_completion,
                                            help="Install completion for the current shell."),
    show_completion: bool = typer.Option(False, "--show-completion", is_eager=True, callback=_show_completion,
                                         help="Show completion for the current shell, to copy it or customize the "
                                              "installation."),
):
    State.debug = debug or os.environ.get("KCTX_DEBUG") == "1"
    State.env = env
    State.project = project


def _print_version():
    from kctx_cli import __version__

    typer.echo(f"kctx {__version__}")
    raise typer.Exit(0)


def config(define: Optional[List[str]] = None):
    """The loaded configuration for the chosen project and environment; ``define``: the
    ``--define NAME=VALUE`` items of the command (variables of the migration files)."""
    from kctx_cli.config import load_config

    cfg = load_config(State.project, State.env)
    if define:
        from kctx_cli.ksql.session import parse_defines

        cfg.defines = parse_defines(define)
    return cfg


def check_output(output: str) -> str:
    """``output`` itself when it is ``text`` or ``json`` (an ``--output`` value), else KctxError."""
    if output not in ("text", "json"):
        from kctx_cli.errors import KctxError

        raise KctxError(f"--output must be 'text' or 'json', got '{output}'")
    return output


# ---------------------------------------------------------------------------
# project and models
# ---------------------------------------------------------------------------


@app.command()
def init(directory: Path = typer.Argument(Path("."), help="where to create the project")):
    """Scaffold kctx.toml, models/ and migrations/ in DIR."""
    from kctx_cli.commands.project import init as run

    run(directory)


@app.command()
def validate(
    output: str = OutputOpt,
    live: bool = typer.Option(False, "--live", help="also check the cluster: applied history, checksums, drift"),
    define: Optional[List[str]] = DefineOpt,
):
    """Check models, KSQL and migrations offline (no cluster needed)."""
    from kctx_cli.commands.validate import validate as run

    raise typer.Exit(run(config(define), output=check_output(output), live=live))


@app.command()
def doctor(output: str = OutputOpt):
    """Check that Kafka, the Schema Registry and ksqlDB answer (exit 1 if one fails)."""
    from kctx_cli.commands.doctor import doctor as run

    raise typer.Exit(run(config(), output=check_output(output)))


@config_app.command("show")
def config_show(output: str = OutputOpt):
    """Print the effective configuration with secrets redacted."""
    from kctx_cli.commands.project import config_show as run

    run(config(), output=check_output(output))


@show_app.command("avro")
def show_avro(
    name: Optional[str] = typer.Argument(None, help="entity (class, source or topic name); all when omitted"),
    key: bool = typer.Option(False, "--key", help="show the key schema instead of the value schema"),
):
    """Print the Avro schema(s) derived from the models."""
    from kctx_cli.commands.show import show_avro as run

    run(config(), name, key=key)


@show_app.command("ddl")
def show_ddl(name: Optional[str] = typer.Argument(None, help="entity; all in dependency order when omitted")):
    """Print the KSQL of entities and derived entities (the seed's ToKsql)."""
    from kctx_cli.commands.show import show_ddl as run

    run(config(), name)


@show_app.command("plan")
def show_plan(define: Optional[List[str]] = DefineOpt):
    """Print the migration makemigrations would write now (offline, writes nothing)."""
    from kctx_cli.commands.show import show_plan as run

    raise typer.Exit(run(config(define)))


# ---------------------------------------------------------------------------
# KSQL and schemas
# ---------------------------------------------------------------------------


@ksql_app.command("check")
def ksql_check(files: List[Path] = typer.Argument(..., help="KSQL files"), output: str = OutputOpt,
               define: Optional[List[str]] = DefineOpt,
               syntax_only: bool = typer.Option(False, "--syntax-only",
                                                help="check the syntax only (no types, keys, joins, formats)")):
    """Check KSQL files as ksqlDB would: syntax (variables substituted), then each statement's types, keys,
    joins, clauses and formats with the sources earlier statements create; errors as file:line:column."""
    from kctx_cli.commands.ksql import check as run
    from kctx_cli.ksql.session import parse_defines

    raise typer.Exit(run(files, output=check_output(output), defines=parse_defines(define),
                         syntax_only=syntax_only))


@ksql_app.command("fmt")
def ksql_fmt(
    files: List[Path] = typer.Argument(..., help="KSQL files"),
    write: bool = typer.Option(False, "--write", "-w", help="rewrite the files in place"),
):
    """Print (or --write) the canonical rendering of KSQL files."""
    from kctx_cli.commands.ksql import fmt as run

    raise typer.Exit(run(files, write=write))


@schema_app.command("compat")
def schema_compat(
    new: Path = typer.Argument(..., help="the new schema (.avsc)"),
    previous: List[Path] = typer.Argument(..., help="previous schemas, oldest first"),
    level: str = typer.Option("BACKWARD", "--level", "-l", help="NONE, BACKWARD, FORWARD, FULL, or *_TRANSITIVE"),
    output: str = OutputOpt,
):
    """Offline Avro compatibility: exit 0 compatible, 2 incompatible."""
    from kctx_cli.commands.schema import compat as run

    raise typer.Exit(run(new, previous, level=level, output=check_output(output)))


# ---------------------------------------------------------------------------
# migrations
# ---------------------------------------------------------------------------


@app.command()
def makemigrations(
    message: Optional[str] = typer.Option(None, "--message", "-m", help="description (file name part)"),
    check: bool = typer.Option(False, "--check", help="write nothing; exit 2 when a migration is needed (CI)"),
    empty: bool = typer.Option(False, "--empty", help="write an empty migration to fill by hand"),
    allow_destructive: bool = typer.Option(False, "--allow-destructive",
                                           help="write drops, deletes and incompatible schema changes"),
    output: str = OutputOpt,
    define: Optional[List[str]] = DefineOpt,
):
    """Write the next versioned migration from the diff of models vs migrations."""
    from kctx_cli.commands.migrate import makemigrations as run

    raise typer.Exit(run(config(define), message=message, check=check, empty=empty,
                         allow_destructive=allow_destructive, output=check_output(output)))


@app.command()
def migrate(
    to: Optional[str] = typer.Option(None, "--to", help="target version (lower than the current one: run down parts)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="print exactly what would run; change nothing"),
    allow_destructive: bool = typer.Option(False, "--allow-destructive", help="allow drops and deletes"),
    lock_timeout: float = typer.Option(120.0, "--lock-timeout", min=0, help="seconds to wait for another migrate to finish"),
    output: str = OutputOpt,
    define: Optional[List[str]] = DefineOpt,
):
    """Apply pending migrations (history and lock kept in the cluster)."""
    from kctx_cli.commands.migrate import migrate as run

    raise typer.Exit(run(config(define), to=to, dry_run=dry_run, allow_destructive=allow_destructive,
                         lock_timeout=lock_timeout, output=check_output(output)))


@app.command()
def status(output: str = OutputOpt, define: Optional[List[str]] = DefineOpt):
    """Applied, pending and failed versions with their checksums."""
    from kctx_cli.commands.migrate import status as run

    raise typer.Exit(run(config(define), output=check_output(output)))


@app.command()
def plan(
    detailed_exitcode: bool = typer.Option(False, "--detailed-exitcode", help="exit 2 when there are differences"),
    output: str = OutputOpt,
    define: Optional[List[str]] = DefineOpt,
):
    """Models vs the live cluster (exit 0 no diff, 2 diff with --detailed-exitcode, 1 error)."""
    from kctx_cli.commands.migrate import plan as run

    raise typer.Exit(run(config(define), detailed_exitcode=detailed_exitcode, output=check_output(output)))


@app.command()
def repair(
    dry_run: bool = typer.Option(False, "--dry-run", help="print exactly what would run; change nothing"),
    allow_destructive: bool = typer.Option(False, "--allow-destructive",
                                           help="allow deleting schema versions or sources made by hand"),
    lock_timeout: float = typer.Option(120.0, "--lock-timeout", min=0, help="seconds to wait for a running migrate"),
    output: str = OutputOpt,
):
    """Bring drift (what plan lists as made by hand) back to the applied migrations' state."""
    from kctx_cli.commands.migrate import repair as run

    raise typer.Exit(run(config(), dry_run=dry_run, allow_destructive=allow_destructive,
                         lock_timeout=lock_timeout, output=check_output(output)))


@app.command()
def baseline(
    message: str = typer.Option("baseline", "--message", "-m", help="description of the first migration"),
    include: Optional[str] = typer.Option(None, "--include", help="only topics, subjects and sources matching this regex"),
    output: str = OutputOpt,
):
    """Adopt an existing cluster: write its state as V000001 and record it applied."""
    from kctx_cli.commands.migrate import baseline as run

    raise typer.Exit(run(config(), message=message, include=include, output=check_output(output)))


# ---------------------------------------------------------------------------
# incident tools: tail, dlq, cache
# ---------------------------------------------------------------------------


@app.command()
def tail(
    topic: str = typer.Argument(..., help="the topic to read"),
    from_: str = typer.Option("beginning", "--from", "-s",
                              help="where to start: beginning | end | OFFSET | -N (last N per partition) | epoch-ms | "
                                   "ISO-8601 time"),
    follow: bool = typer.Option(False, "--follow", "-f", help="keep reading new records, as tail -f does (Ctrl-C to stop)"),
    max_: Optional[int] = typer.Option(None, "--max", "-n", help="stop after N records"),
    output: Optional[str] = typer.Option(None, "--output", "-o",
                                         help="jsonl | pretty | raw (default: pretty on a terminal, else jsonl)"),
    partition: Optional[List[int]] = typer.Option(None, "--partition", "-P", help="read only this partition (repeatable)"),
    key: Optional[str] = typer.Option(None, "--key", "-k",
                                      help="only records with this key, typed as text (42, c-7, or col=value,… for a "
                                           "composite key); reads the partitions the Java (murmur2), librdkafka (crc32) "
                                           "and Sarama (fnv1a) partitioners pick"),
    key_format: Optional[str] = typer.Option(None, "--key-format",
                                             help="how keys are written when neither the models nor ksqlDB say: string, "
                                                  "int, bigint, double, bytes (KAFKA format), json, avro, protobuf, json_sr"),
    scan_all: bool = typer.Option(False, "--scan-all", help="with --key: read every partition"),
    grep: Optional[str] = typer.Option(None, "--grep", "-g", help="only records whose decoded value matches this regex"),
):
    """Print a topic's records (Avro, Protobuf, JSON Schema decoded via the registry) without joining a group or committing."""
    from kctx_cli.commands.tail import tail as run
    from kctx_cli.tail.core import TailOptions

    opts = TailOptions(topic=topic, start=from_, follow=follow, max=max_, output=output,
                       partitions=list(partition or []), key=key, scan_all=scan_all, grep=grep, key_format=key_format)
    raise typer.Exit(run(config(), opts))


@dlq_app.command("list")
def dlq_list(
    pattern: Optional[str] = typer.Option(None, "--pattern", help="regex of DLQ topic names (default: *-dlq, *.dlq, *_dlq, *-dlt, *.DLT)"),
    output: str = OutputOpt,
):
    """DLQ topics with record counts and the age of their oldest/newest records."""
    from kctx_cli.commands.dlq import dlq_list as run

    raise typer.Exit(run(config(), pattern, check_output(output)))


@dlq_app.command("show")
def dlq_show(
    topic: str = typer.Argument(..., help="the DLQ topic"),
    from_: str = typer.Option("beginning", "--from", "-s", help="as for kctx tail"),
    max_: int = typer.Option(20, "--max", "-n", help="at most N records"),
    output: str = OutputOpt,
):
    """Dead-lettered records with their original topic/partition/offset and error."""
    from kctx_cli.commands.dlq import dlq_show as run

    raise typer.Exit(run(config(), topic, from_, max_, check_output(output)))


@dlq_app.command("replay")
def dlq_replay(
    topic: str = typer.Argument(..., help="the DLQ topic"),
    to: Optional[str] = typer.Option(None, "--to", help="re-publish here instead of the original topic from the headers"),
    error_code: Optional[List[str]] = typer.Option(None, "--error-code", help="only this error code / exception class (repeatable)"),
    since: Optional[str] = typer.Option(None, "--since", help="only records dead-lettered at or after (ISO-8601 or epoch ms)"),
    until: Optional[str] = typer.Option(None, "--until", help="only records dead-lettered at or before"),
    key: Optional[str] = typer.Option(None, "--key", help="only records with this key (typed as for kctx tail --key)"),
    repartition: bool = typer.Option(False, "--repartition",
                                     help="choose the partition from the key (murmur2, as Java and ksqlDB) instead of "
                                          "the original partition named in the DLQ headers"),
    dry_run: bool = typer.Option(False, "--dry-run", help="print a histogram by original topic and error code; write nothing"),
    at_least_once: bool = typer.Option(False, "--at-least-once", help="no transactions (clusters without them); a crash may duplicate a batch"),
    max_replays: int = typer.Option(3, "--max-replays", min=0, help="records already replayed this often go to <dlq>-parking"),
    rate: Optional[float] = typer.Option(None, "--rate", min=0.001, help="at most N records per second"),
    group: Optional[str] = typer.Option(None, "--group", help="consumer group / transactional id (default kctx-dlq-replay-<dlq>[-<filters>])"),
    output: str = OutputOpt,
):
    """Re-publish dead-lettered records exactly once (Kafka transactions); resumable."""
    from kctx_cli.commands.dlq import dlq_replay as run
    from kctx_cli.dlq.core import ReplayOptions

    opts = ReplayOptions(dlq=topic, to=to, error_codes=list(error_code or []), since=since, until=until, key=key,
                         repartition=repartition, dry_run=dry_run, at_least_once=at_least_once, max_replays=max_replays, rate=rate, group=group)
    raise typer.Exit(run(config(), opts, check_output(output)))


def _cache_dir(value: Optional[Path]) -> Optional[Path]:
    """--cache-dir must be a directory (or not exist yet): a file there is one line, exit 1."""
    if value is not None and value.exists() and not value.is_dir():
        raise typer.BadParameter(f"{value} is not a directory")
    return value


CacheDirOpt = typer.Option(None, "--cache-dir", callback=_cache_dir,
                           help="where caches live (default KCTX_CACHE_DIR or .kctx/cache in the project)")


@cache_app.command("warm")
def cache_warm(
    table: str = typer.Argument(..., help="model entity, ksqlDB table or topic"),
    cache_dir: Optional[Path] = CacheDirOpt,
    batch: int = typer.Option(50000, "--batch", min=1, help="records per RocksDB write batch", hidden=True),
    pause: float = typer.Option(0.0, "--pause", help="sleep between batches (testing)", hidden=True),
    store: Optional[str] = typer.Option(None, "--store", help="raw (Kafka bytes, default for a new cache) or decoded "
                                        "(decoded once here: faster get); fixed when the cache is created"),
    output: str = OutputOpt,
):
    """Load a table's compacted topic into RocksDB; a re-run reads only what is new."""
    from kctx_cli.commands.cache import cache_warm as run

    raise typer.Exit(run(config(), table, cache_dir, check_output(output), batch=batch, pause=pause, store=store))


@cache_app.command("get")
def cache_get(
    table: str = typer.Argument(..., help="model entity, ksqlDB table or topic"),
    key: str = typer.Argument(..., help="the key as typed: 42, c-7, or col=value,… (any order) for a composite key"),
    cache_dir: Optional[Path] = CacheDirOpt,
    key_format: Optional[str] = typer.Option(None, "--key-format",
                                             help="how keys are written when neither the models nor ksqlDB say: string, "
                                                  "int, bigint, double, bytes (KAFKA format), json, avro"),
    output: str = OutputOpt,
):
    """Print the cached value of KEY, encoded as the table's writer encodes keys (exit 1 when absent)."""
    from kctx_cli.commands.cache import cache_get as run

    raise typer.Exit(run(config(), table, key, cache_dir, check_output(output), key_format=key_format))


@cache_app.command("stats")
def cache_stats(
    table: Optional[str] = typer.Argument(None, help="one table; all caches when omitted"),
    cache_dir: Optional[Path] = CacheDirOpt,
    output: str = OutputOpt,
):
    """Keys, size, stored offsets and last warm of the caches."""
    from kctx_cli.commands.cache import cache_stats as run

    raise typer.Exit(run(config(), table, cache_dir, check_output(output)))


@cache_app.command("drop")
def cache_drop(
    table: str = typer.Argument(..., help="model entity, ksqlDB table or topic"),
    cache_dir: Optional[Path] = CacheDirOpt,
):
    """Delete a table's cache (refused while a warm runs)."""
    from kctx_cli.commands.cache import cache_drop as run

    raise typer.Exit(run(config(), table, cache_dir))


def main() -> None:
    """Console-script entry point. Everything the process writes on stdout and stderr
    goes through kctx_cli.redact first (SPEC §9)."""
    from kctx_cli import redact
    from kctx_cli.errors import KctxError

    redact.install()
    if os.environ.get(COMPLETE_VAR):
        # the shell asks for completions: Typer's completion classes replace click's
        # (the protocol of Typer's scripts); add_completion=True would do this at start-up
        from typer.completion import completion_init

        completion_init()

    try:
        rv = app(standalone_mode=False, prog_name="kctx")  # click returns the exit code instead of exiting
    except KctxError as exc:
        if State.debug:
            raise
        for other in getattr(exc, "others", ()):  # KctxErrors: the rest of the problems first
            _error(other)
        _error(exc.message)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        _error("aborted")
        sys.exit(1)
    except KeyboardInterrupt:
        _error("interrupted")
        sys.exit(130)
    except Exception as exc:  # usage errors (Typer's click exceptions) and real bugs
        if _is_usage_error(exc):
            # click exits 2 on a usage mistake; in kctx 2 only ever means "differences found"
            _usage_error(exc)
            sys.exit(1)
        if callable(getattr(exc, "show", None)) and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()
            sys.exit(1 if exc.exit_code == 2 else exc.exit_code)
        if State.debug:
            raise
        _error(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)")
        sys.exit(1)
    sys.exit(rv if isinstance(rv, int) else 0)


def _is_usage_error(exc: BaseException) -> bool:
    # by name: Typer >= 0.16 raises its vendored copy of click's exceptions, older ones click's
    return any(c.__name__ == "UsageError" for c in type(exc).__mro__)


def _usage_error(exc) -> None:
    """A mistake on the command line (unknown option or command, missing or bad argument):
    one line naming the command's help. A group called without a command prints its help
    (to stderr: stdout stays empty for pipes). Exit code 1, as for every error (SPEC §2)."""
    ctx = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:  # click >= 8.2
        typer.echo(ctx.get_help(), err=True)
        return
    hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    _error(" ".join(exc.format_message().split()) + hint)


def _error(message: str) -> None:
    """One line on stderr: ``error: MESSAGE``, secrets redacted (kctx_cli.redact), an HTML
    page reduced to its title, line breaks folded."""
    # rich only for the colour, imported here (not at start-up)
    from rich.console import Console
    from rich.text import Text

    from kctx_cli.redact import redact

    message = " ".join(redact(str(message)).split())
    Console(stderr=True, highlight=False, soft_wrap=True).print(Text.assemble(("error: ", "bold red"), message))
