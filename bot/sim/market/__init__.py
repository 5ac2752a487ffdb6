"""Market side of the simulator: contract catalog, scenario paths, quotes, greeks, history, starting book."""
