from kctx_cli.cli import main

main()
