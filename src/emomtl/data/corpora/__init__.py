"""data/corpora."""
