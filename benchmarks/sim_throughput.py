"""Simulator speed over loopback, as a real client (ib_async) sees it.

1. Streaming: 50 market-data subscriptions (VX and VXM futures, SPX options, indices, VIXY) on a fast simulated
   clock (every quote moves every cycle); counts the messages ib_async decodes per second (msgs_per_s) and, with
   a bare socket that only splits frames, what the simulator itself emits (raw_msgs_per_s).
2. Orders: marketable 1-lot VX limit orders one after another; latency from placeOrder to ib_async seeing Filled
   (order_p50_ms/order_p99_ms), and the same from a bare socket (raw_order_*: the simulator's share).

The simulator runs as a separate `alvh sim` process (as a user runs it). Prints ONE JSON line at the end.
Usage: python benchmarks/sim_throughput.py [--seconds 5] [--orders 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import struct
import subprocess
import sys
import time

from ib_async import IB, Contract, Future, Index, LimitOrder, Option, Stock

from bot.sim.wire import FrameReader, frame


def start_simulator(speed: float, tick_interval: float) -> tuple[subprocess.Popen[str], int]:
    cmd = [sys.executable, "-m", "bot", "sim", "--scenario", "calm", "--port", "0", "--speed", str(speed),
           "--tick-interval", str(tick_interval), "--log-format", "json"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
    if not m:
        proc.kill()
        raise RuntimeError(f"simulator did not start: {line!r}")
    return proc, int(m.group(1))


async def subscriptions(ib: IB) -> list[Contract]:
    futures = sorted(
        await ib.reqContractDetailsAsync(Future("VIX", exchange="CFE")), key=lambda d: d.realExpirationDate
    )
    minis = await ib.reqContractDetailsAsync(Future("VXM", exchange="CFE"))
    indices = await ib.qualifyContractsAsync(*[Index(s, "CBOE") for s in ("VIX", "VIX3M", "VIX9D", "SPX")])
    [vixy] = await ib.qualifyContractsAsync(Stock("VIXY", "SMART", "USD"))
    spx = indices[-1]
    chains = await ib.reqSecDefOptParamsAsync("SPX", "", "IND", spx.conId)
    chain = next(c for c in chains if c.tradingClass == "SPXW" and c.exchange == "SMART")
    expiry = sorted(chain.expirations)[5]
    strikes = [k for k in chain.strikes if k % 25 == 0 and 4800 <= k <= 6200]
    options = await ib.qualifyContractsAsync(
        *[Option("SPX", expiry, k, "P" if k < 5500 else "C", "SMART", tradingClass="SPXW") for k in strikes]
    )
    contracts = [d.contract for d in futures] + [d.contract for d in minis] + list(indices) + [vixy] + options
    return contracts[:50]


async def stream(port: int, seconds: float) -> dict[str, float]:
    ib = IB()
    ib.RequestTimeout = 20
    await ib.connectAsync("127.0.0.1", port, clientId=1, timeout=20)
    contracts = await subscriptions(ib)
    for c in contracts:
        ib.reqMktData(c)
    await asyncio.sleep(1.0)  # initial snapshot of every subscription
    start_msgs, t0 = ib.client._numMsgRecv, time.perf_counter()
    await asyncio.sleep(seconds)
    msgs, elapsed = ib.client._numMsgRecv - start_msgs, time.perf_counter() - t0
    ib.disconnect()
    return {"subscriptions": len(contracts), "msgs_per_s": msgs / elapsed, "stream_seconds": elapsed}


async def stream_raw(port: int, seconds: float) -> dict[str, float]:
    """The same 50 subscriptions read by a bare socket that only splits frames: the simulator's own output rate."""
    ib = IB()
    ib.RequestTimeout = 20
    await ib.connectAsync("127.0.0.1", port, clientId=3, timeout=20)
    contracts = await subscriptions(ib)
    ib.disconnect()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"API\0" + struct.pack(">I", 9) + b"v157..176" + frame([71, 2, 4, ""]))
    for i, c in enumerate(contracts):  # reqMktData by conId: [1, 11, reqId, C12, dnc=0, ticks, snapshot, reg, opts]
        writer.write(
            frame([1, 11, 100 + i, c.conId, "", "", "", 0.0, "", "", "SMART", "", "", "", "", 0, "", 0, 0, ""])
        )
    frames = FrameReader()
    frames.feed(b"API\0" + struct.pack(">I", 0))  # count every frame, the handshake reply included
    warm_up_end = time.perf_counter() + 1.0
    while time.perf_counter() < warm_up_end:  # the initial snapshot of every subscription is not counted
        frames.feed(await reader.read(1 << 20))
    count, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        count += len(frames.feed(await reader.read(1 << 20)))
    elapsed = time.perf_counter() - t0
    writer.close()
    return {"raw_msgs_per_s": count / elapsed}


async def orders(port: int, count: int) -> dict[str, float]:
    ib = IB()
    ib.RequestTimeout = 20
    ib.client.MaxRequests = 0  # ib_async paces itself to 45 requests/s by default; measure the simulator, not that
    await ib.connectAsync("127.0.0.1", port, clientId=2, timeout=20)
    [vx] = sorted(await ib.reqContractDetailsAsync(Future("VIX", exchange="CFE")), key=lambda d: d.realExpirationDate)[
        :1
    ]
    ticker = ib.reqMktData(vx.contract)
    while not (ticker.bid > 0 and ticker.ask > 0):
        await asyncio.sleep(0.05)
    latencies = []
    for i in range(count):
        buy = i % 2 == 0
        price = round(ticker.ask + 0.5, 2) if buy else round(ticker.bid - 0.5, 2)
        price = round(round(price / 0.05) * 0.05, 2)
        done = asyncio.get_running_loop().create_future()
        t0 = time.perf_counter()
        trade = ib.placeOrder(vx.contract, LimitOrder("BUY" if buy else "SELL", 1, price, orderRef=f"bench-{i}"))

        def on_status(tr, done=done, t0=t0):
            if tr.orderStatus.status == "Filled" and not done.done():
                done.set_result(time.perf_counter() - t0)

        trade.statusEvent += on_status
        latencies.append(await asyncio.wait_for(done, 10) * 1000.0)
    ib.disconnect()
    latencies.sort()
    return {
        "orders": count,
        "order_p50_ms": statistics.median(latencies),
        "order_p99_ms": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "order_max_ms": latencies[-1],
    }


async def orders_raw(port: int, count: int) -> dict[str, float]:
    """The same round trip from a bare socket (bytes built by ib_async's own serializer): the simulator's share."""
    ib = IB()
    ib.RequestTimeout = 20
    await ib.connectAsync("127.0.0.1", port, clientId=5, timeout=20)
    [vx] = sorted(await ib.reqContractDetailsAsync(Future("VIX", exchange="CFE")), key=lambda d: d.realExpirationDate)[
        :1
    ]
    [ticker] = await ib.reqTickersAsync(vx.contract)
    captured: list[str] = []
    send, ib.client.sendMsg = ib.client.sendMsg, captured.append
    ib.client.placeOrder(1, vx.contract, LimitOrder("BUY", 1, 1.0))
    ib.client.sendMsg = send
    ib.disconnect()
    fields = captured[0].split("\0")[:-1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"API\0" + struct.pack(">I", 9) + b"v157..176" + frame([71, 2, 6, ""]))
    frames = FrameReader()
    frames.feed(b"API\0" + struct.pack(">I", 0))
    seen: list[list[str]] = []
    while not any(f[0] == "9" for f in seen):  # nextValidId: the session is ready
        seen += frames.feed(await reader.read(65536))
    latencies = []
    for i in range(count):
        buy = i % 2 == 0
        price = ticker.ask + 0.5 if buy else ticker.bid - 0.5
        fields[1], fields[16], fields[19] = str(1000 + i), "BUY" if buy else "SELL", f"{round(price * 20) / 20:.2f}"
        t0 = time.perf_counter()
        writer.write(frame(fields))
        filled = False
        while not filled:
            for f in frames.feed(await reader.read(65536)):
                filled = filled or (f[0] == "3" and f[1] == str(1000 + i) and f[2] == "Filled")
        latencies.append((time.perf_counter() - t0) * 1000.0)
    writer.close()
    latencies.sort()
    return {"raw_order_p50_ms": statistics.median(latencies), "raw_order_p99_ms": latencies[int(0.99 * count)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="streaming measurement window (at most 5)")
    parser.add_argument("--orders", type=int, default=300, help="orders for the latency measurement")
    args = parser.parse_args()
    result: dict[str, float] = {}
    # A fresh simulator per measurement: at 2400x every quote moves every 10 ms cycle, and the 10:00 ET start leaves
    # ~9 real seconds before the close (connecting, subscribing and the window fit in that).
    for measure in (stream, stream_raw):
        proc, port = start_simulator(speed=2400.0, tick_interval=0.001)
        try:
            result.update(asyncio.run(measure(port, args.seconds)))
        finally:
            proc.terminate()
            proc.wait(10)
    proc, port = start_simulator(speed=1.0, tick_interval=0.25)  # a normal market for the order round trips
    try:
        result.update(asyncio.run(orders(port, args.orders)))
        result.update(asyncio.run(orders_raw(port, args.orders)))
    finally:
        proc.terminate()
        proc.wait(10)
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}))


if __name__ == "__main__":
    main()
