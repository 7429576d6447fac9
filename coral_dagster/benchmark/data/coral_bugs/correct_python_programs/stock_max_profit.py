def stock_max_profit(prices):
    """Best profit from one buy followed by one later sell (0 if prices never rise)."""
    best = 0
    lowest = float("inf")
    for price in prices:
        best = max(best, price - lowest)
        lowest = min(lowest, price)
    return best
