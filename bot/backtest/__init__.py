"""Historical backtest of SPX iron condors with and without VIX hedges (ALVH spec section 8).

Layout: `validate` parses and checks CSV files with errors that name file, line and problem; `data` loads a
directory in the shared format into aligned numpy arrays; `cboe` reads Cboe's public raw formats; `condors`
simulates the condor book; `hedges` the hedge legs; `metrics` scores equity curves and signal events.
"""
