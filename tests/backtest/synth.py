"""A small synthetic data directory in the shared format, so backtest tests run without ../shared/data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bot.vx_calendar import contract_code, vx_expiry


def business_days(start: str, n: int) -> pd.DatetimeIndex:
    return pd.bdate_range(start, periods=n)


def make_data_dir(root: Path, start: str = "2017-06-01", n_days: int = 320, spike_at: int = 200, seed: int = 7) -> Path:
    """Write a calm market with one volatility spike at day `spike_at` (SPX -12% over 5 days, VIX to ~40)."""
    rng = np.random.default_rng(seed)
    dates = business_days(start, n_days)
    vix = np.full(n_days, 13.0) + rng.normal(0, 0.3, n_days)
    ret = rng.normal(0.0004, 0.006, n_days)
    for k in range(5):
        ret[spike_at + k] = -0.025
        vix[spike_at + k] = 16 + 5 * (k + 1)
    for k in range(5, 40):
        if spike_at + k < n_days:
            vix[spike_at + k] = 13 + 27 * np.exp(-(k - 4) / 6)
    spx = 2400 * np.cumprod(1 + ret)
    iso = dates.strftime("%Y-%m-%d")
    root.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(
        {
            "date": iso,
            "vix_open": vix,
            "vix_high": vix,
            "vix_low": vix,
            "vix_close": vix,
            "vix9d_close": vix * 0.97,
            "vix3m_close": np.maximum(vix * 0.9, 15.0),
            "vvix_close": 90.0,
            "skew": 125.0,
            "vix1d": "",
            "vix6m": "",
            "vix1y": "",
            "vix_open_suspect": False,
            "spx_trading_day": True,
        }
    ).to_csv(root / "vix_family_daily.csv", index=False)
    pd.DataFrame(
        {
            "date": iso,
            "open": spx,
            "high": spx,
            "low": spx,
            "close": spx,
            "volume": 1e9,
            "source": "synthetic",
            "open_equals_prev_close": False,
        }
    ).to_csv(root / "spx_daily.csv", index=False)
    rows = []
    months = pd.period_range(dates[0] - pd.Timedelta(days=31), dates[-1] + pd.Timedelta(days=240), freq="M")
    for i, day in enumerate(dates):
        for period in months:
            expiry = vx_expiry(period.year, period.month)
            dte = (pd.Timestamp(expiry) - day).days
            if 0 <= dte <= 230:
                level = 19.0 + (vix[i] - 19.0) * np.exp(-dte / 60.0)
                rows.append(
                    {
                        "trade_date": day.strftime("%Y-%m-%d"),
                        "contract": contract_code(period.year, period.month),
                        "contract_month": f"{period.year}-{period.month:02d}",
                        "expiry": expiry.isoformat(),
                        "open": level,
                        "high": level,
                        "low": level,
                        "close": level,
                        "settle": round(level, 3),
                        "change": 0.0,
                        "volume": 1000,
                        "efp": 0,
                        "open_interest": 5000,
                        "rescaled_div10": False,
                        "source": "synthetic",
                        "dte_cal": dte,
                        "settle_suspect": False,
                    }
                )
    pd.DataFrame(rows).to_csv(root / "vx_contracts.csv", index=False)
    vixy = 100 * np.cumprod(1 + np.diff(vix, prepend=vix[0]) / vix * 0.5 - 0.002)
    pd.DataFrame({"date": iso, "close": vixy}).to_csv(root / "vixy_daily.csv", index=False)
    pd.DataFrame({"date": iso[::40], "event": "FOMC", "description": "x", "scheduled": True, "source": "s"}).to_csv(
        root / "macro_calendar.csv", index=False
    )
    pd.DataFrame({"date": ["2000-01-03"], "value": [1.5]}).to_csv(root / "fed_funds_daily.csv", index=False)
    adv = 1500 + 300 * np.sign(ret)
    pd.DataFrame({"date": iso, "advances": adv, "declines": 3000 - adv}).to_csv(root / "nyse_adv_dec.csv", index=False)
    cndr = 100 * np.cumprod(1 + rng.normal(0.0001, 0.003, n_days))
    pd.DataFrame({"date": iso, "cndr": cndr}).to_csv(root / "cboe_cndr_index.csv", index=False)
    return root
