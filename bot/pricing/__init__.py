"""Option pricing shared by the strategy core, the simulator and the backtest (pure math, no I/O)."""
