"""Agent runs: the claude command line, stream-json parsing, supervision, restart re-adoption."""
