"""The `gridgov` commands an operator runs: the platform, the ticker, audit, keys, grids, tokens."""
