"""The command line: one module per command (``add_arguments(parser)``, ``run(args) -> int``), parsing
arguments and printing results only; the work is done by the library, which never imports this package."""
