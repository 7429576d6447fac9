def min_coins(amount, coins):
    """Fewest coins (unlimited supply of each value) summing to amount, or -1 if impossible."""
    unreachable = amount + 1
    fewest = [0] + [unreachable] * amount
    for total in range(1, amount + 1):
        for coin in coins:
            if coin <= total:
                fewest[total] = min(fewest[total], fewest[total - coin] + 1)
    return fewest[amount] if fewest[amount] != unreachable else -1
