"""``python -m zettelmem``: the command line (see :mod:`zettelmem.cli.app`)."""

from zettelmem.cli.app import main

if __name__ == "__main__":
    main()
