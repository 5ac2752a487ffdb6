"""One module per `alvh` sub-command: `configure_parser(parser)` declares options, `run(args)` returns the exit code."""
