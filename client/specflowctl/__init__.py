"""specflowctl: the thin command-line client of specflowd."""
