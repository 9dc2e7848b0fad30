"""One-shot subcommands: each module has `register(subparsers)`; its parser's `func(args) -> int` runs it."""
