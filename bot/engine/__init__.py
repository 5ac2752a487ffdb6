"""The engine: the one asyncio process that wires broker, strategy core, risk, journal, approvals and execution.

`Engine` (engine.py) runs the loop; its mixins are modes.py (what each mode does with a decision's intents),
wiring.py (discovery, subscriptions, history warm-up) and reporting.py (timeline, P&L, status file, summary). The other
modules each do one job for them: the market clock (clock.py), quotes stamped with that clock (marketdata.py),
daily history for the indicators (history.py), the MarketSnapshot the core decides on (snapshot.py), restoring
StrategyState from the journal (state_codec.py), hedge P&L from fills (pnl.py), the timeline people read
(timeline.py) and its end summary (summary.py), how intents are grouped, keyed and described (trades.py), the status
file `alvh status` shows (status.py), trading hours asked once a minute (hours.py), the worker thread for disk
housekeeping (background_io.py) and the in-process simulator (simhost.py).
"""
