from tabulate import tabulate


def render(arr):
    return tabulate(arr.tolist(), headers=["x", "y", "err"], tablefmt="github", floatfmt=".4g")
