"""Immutable domain types shared by the pure core, the shell and the backtest (no I/O, no IB imports)."""
