"""`python -m kctx_cli`: the `kctx` command (kctx_cli.cli.main)."""
from kctx_cli.cli import main

if __name__ == "__main__":
    main()
