"""Gateway simulator: an IB Gateway stand-in speaking the real TWS socket protocol over loopback."""
