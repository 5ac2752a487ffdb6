# First start the simulator: `alvh sim --scenario spike`; then run `python docs/sim_client_example.py`.
from ib_async import IB, Future, Index, LimitOrder

ib = IB()
ib.connect("127.0.0.1", 4002, clientId=1)
print("condor legs:", [(p.contract.localSymbol, p.position) for p in ib.positions()])
[vix] = ib.qualifyContracts(Index("VIX", "CBOE"))
vx = min(ib.reqContractDetails(Future("VIX", exchange="CFE")), key=lambda d: d.realExpirationDate).contract
vix_quote, vx_quote = ib.reqMktData(vix), ib.reqMktData(vx)
ib.sleep(2)
print(f"VIX {vix_quote.last}   {vx.localSymbol} {vx_quote.bid} / {vx_quote.ask}")
trade = ib.placeOrder(vx, LimitOrder("BUY", 1, vx_quote.ask))
ib.sleep(1)
print(vx.localSymbol, trade.orderStatus.status, "at", trade.orderStatus.avgFillPrice)
ib.disconnect()
