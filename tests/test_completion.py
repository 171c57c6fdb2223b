"""Shell completion (issue 13): Typer's `--install-completion` / `--show-completion` and the
`_KCTX_COMPLETE` protocol of its scripts, loaded only when used (`kctx --help` stays fast)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO, make_project, run_kctx




def _env(**extra: str | None) -> dict:
    """The environment run_kctx gives kctx (no KCTX_* of the caller), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KCTX_", "_KCTX_"))}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    for k, v in extra.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def _kctx_under(shell: str, *args: str, **env: str | None) -> subprocess.CompletedProcess:
    """Run kctx from ``shell`` (its parent process), as a user typing in that shell would:
    Typer finds the current shell by walking up the parent processes. ``exit $?`` keeps
    the shell from exec-ing kctx in its place."""
    return subprocess.run([shell, "-c", '"$@"; exit $?', shell, sys.executable, "-m", "kctx_cli", *args],
                          env=_env(**env), capture_output=True, text=True, timeout=120)


def _complete_bash(line: str, cwd: Path | None = None, **env: str) -> list[str]:
    """What kctx answers bash's completion function for the command line ``line`` (the
    word under the cursor is the last one; a trailing space starts a new, empty word)."""
    words = line.split()
    cword = len(words) if line.endswith(" ") else len(words) - 1
    res = run_kctx(cwd=cwd, env={"_KCTX_COMPLETE": "complete_bash", "COMP_WORDS": line, "COMP_CWORD": str(cword), **env})
    assert res.returncode == 0, res.stderr
    return [word for word in res.stdout.splitlines() if word]  # nothing to offer: one empty line


# ---------------------------------------------------------------------------
# the scripts
# ---------------------------------------------------------------------------


def test_show_completion_prints_the_bash_script():
    res = _kctx_under("bash", "--show-completion", SHELL="/bin/bash")
    assert res.returncode == 0, res.stderr
    assert "_KCTX_COMPLETE=complete_bash" in res.stdout
    assert "complete -o default -F _kctx_completion kctx" in res.stdout


@pytest.mark.parametrize("shell, expected", [
    ("bash", "_KCTX_COMPLETE=complete_bash"),
    ("zsh", "_KCTX_COMPLETE=complete_zsh"),
    ("fish", "_KCTX_COMPLETE=complete_fish"),
    ("powershell", "_KCTX_COMPLETE"),
])
def test_script_for_a_named_shell(shell, expected):
    # the way to get another shell's script than the current one's (Typer's "source_SHELL")
    res = run_kctx(env={"_KCTX_COMPLETE": f"source_{shell}"})
    assert res.returncode == 0, res.stderr
    assert expected in res.stdout and "kctx" in res.stdout


def test_help_lists_the_completion_options():
    res = run_kctx("--help")
    assert res.returncode == 0
    assert "--install-completion" in res.stdout and "--show-completion" in res.stdout


# ---------------------------------------------------------------------------
# completing a command line, as the scripts ask
# ---------------------------------------------------------------------------


def test_bash_completes_commands():
    assert _complete_bash("kctx m") == ["makemigrations", "migrate"]
    assert _complete_bash("kctx mi") == ["migrate"]
    assert _complete_bash("kctx dlq ") == ["list", "show", "replay"]
    assert _complete_bash("kctx cache w") == ["warm"]


def test_bash_completes_options():
    migrate = _complete_bash("kctx migrate --")
    assert {"--to", "--dry-run", "--allow-destructive", "--lock-timeout", "--output", "--define", "--help"} <= set(migrate)
    assert _complete_bash("kctx migrate --dr") == ["--dry-run"]
    root = _complete_bash("kctx --")
    assert {"--env", "--project", "--debug", "--version", "--install-completion", "--show-completion"} <= set(root)
    # hidden options stay hidden
    warm = _complete_bash("kctx cache warm --")
    assert "--store" in warm and "--batch" not in warm and "--pause" not in warm


def test_env_values_come_from_kctx_toml(tmp_path):
    project = tmp_path / "shop"
    make_project(project, {}, toml='[project]\nmodels = "models"\n\n[env.dev]\n[env.prod]\n'
                                   'bootstrap_servers = "${KAFKA_BOOTSTRAP}"\n[env.staging]\n')
    assert _complete_bash("kctx --env ", cwd=project) == ["dev", "prod", "staging"]
    assert _complete_bash("kctx -e p", cwd=project) == ["prod"]
    # from elsewhere, with --project (or KCTX_PROJECT) naming the project
    assert _complete_bash(f"kctx -p {project} --env s", cwd=tmp_path) == ["staging"]
    assert _complete_bash("kctx --env ", cwd=tmp_path, KCTX_PROJECT=str(project)) == ["dev", "prod", "staging"]
    # no project, or one that does not parse: nothing to offer, and no error
    assert _complete_bash("kctx --env ", cwd=tmp_path) == []
    (project / "kctx.toml").write_text("[env.dev\n")
    assert _complete_bash("kctx --env ", cwd=project) == []


def test_zsh_completes_commands():
    res = run_kctx(env={"_KCTX_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "kctx mig"})
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("_arguments") and '"migrate"' in res.stdout and "makemigrations" not in res.stdout


def test_the_bash_script_completes_in_bash(tmp_path):
    """End to end: bash sources the script and calls its completion function, which runs kctx."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kctx").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m kctx_cli "$@"\n')
    (bin_dir / "kctx").chmod(0o755)
    script = tmp_path / "kctx.sh"
    script.write_text(run_kctx(env={"_KCTX_COMPLETE": "source_bash"}).stdout)
    res = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c",
         f"source '{script}'; COMP_WORDS=(kctx m); COMP_CWORD=1; _kctx_completion kctx; "
         'printf "%s\\n" "${COMPREPLY[@]}"'],
        env=_env(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}"), capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == ["makemigrations", "migrate"]


# ---------------------------------------------------------------------------
# installing
# ---------------------------------------------------------------------------


def test_install_completion_writes_the_bashrc(tmp_path):
    res = _kctx_under("bash", "--install-completion", HOME=str(tmp_path), SHELL="/bin/bash")
    assert res.returncode == 0, res.stderr
    script = tmp_path / ".bash_completions" / "kctx.sh"
    assert f"bash completion installed in {script}" in res.stdout
    assert "_KCTX_COMPLETE=complete_bash" in script.read_text()
    source_line = f"source '{script}'"
    assert source_line in (tmp_path / ".bashrc").read_text().splitlines()
    # a second install does not add the line twice
    assert _kctx_under("bash", "--install-completion", HOME=str(tmp_path), SHELL="/bin/bash").returncode == 0
    assert (tmp_path / ".bashrc").read_text().splitlines().count(source_line) == 1


def test_an_unsupported_shell_is_one_error_line(tmp_path):
    res = _kctx_under("/bin/sh", "--install-completion", HOME=str(tmp_path), SHELL="/bin/sh")
    assert res.returncode == 1 and res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot complete for this shell (sh)"), res.stderr
    assert "bash, zsh, fish, powershell" in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_shell_falls_back_to_the_login_shell(monkeypatch):
    import shellingham

    from kctx_cli import cli

    def undetectable(*args, **kwargs):
        raise shellingham.ShellDetectionFailure()

    monkeypatch.setattr(shellingham, "detect_shell", undetectable)
    monkeypatch.setenv("SHELL", "/usr/bin/zsh")
    assert cli._completion_shell() == "zsh"
    # the shell kctx runs in wins over the login shell
    monkeypatch.setattr(shellingham, "detect_shell", lambda *a, **k: ("fish", "/usr/bin/fish"))
    assert cli._completion_shell() == "fish"
