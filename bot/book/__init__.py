"""Reading the condor book: option legs -> iron condors (+ verticals and single legs), greeks, exposure, stress.

- `grouping`: positions -> structures and their economics (credit, widths, max loss, break-evens), memoized;
- `greeks`: per-contract greeks, broker model greeks or a Black-Scholes fallback, all contracts at once;
- `report`: `read_book`, the `BookReport` sizing reads (V_IC, E_VIX, stress losses capped at max loss).
"""

from bot.book.greeks import GreeksTable, bs_greeks_vec, greeks_table, model_iv, years_to_expiry
from bot.book.grouping import Layout, economics, group_legs, layout
from bot.book.report import book_greeks, read_book

__all__ = [
    "GreeksTable",
    "Layout",
    "book_greeks",
    "bs_greeks_vec",
    "economics",
    "greeks_table",
    "group_legs",
    "layout",
    "model_iv",
    "read_book",
    "years_to_expiry",
]
