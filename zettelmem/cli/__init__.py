"""The ``zettelmem`` command line (typer + rich); the entry point is :func:`zettelmem.cli.app.main`."""
