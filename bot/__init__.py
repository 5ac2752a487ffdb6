"""alvh: Adaptive Layered VIX Hedge for SPX iron-condor books at Interactive Brokers."""

__version__ = "0.1.0"
