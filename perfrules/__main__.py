"""``python -m perfrules``: the command line."""

from perfrules.cli.main import main

main()
