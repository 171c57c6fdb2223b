"""One module per command group: plain functions the CLI calls and library users can
call too. They take a loaded ``Config`` (or paths), print with rich, and return an
exit code or raise ``KctxError``."""
