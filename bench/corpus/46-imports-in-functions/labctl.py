"""Lab data CLI; heavy libraries are imported inside the subcommand that needs them."""

import argparse
import sys


def cmd_fit(args):
    import numpy as np
    from scipy.optimize import curve_fit

    x, y = np.loadtxt(args.data, delimiter=",", unpack=True)
    popt, _ = curve_fit(lambda t, a, k: a * np.exp(-k * t), x, y, p0=(y.max(), 1.0))
    print("a=%.4g k=%.4g" % tuple(popt))


def cmd_plot(args):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    import numpy as np

    x, y = np.loadtxt(args.data, delimiter=",", unpack=True)
    plt.semilogy(x, y, "o")
    plt.savefig(args.out)


def cmd_export(args):
    def _writer():
        import openpyxl

        return openpyxl.Workbook()

    wb = _writer()
    ws = wb.active
    with open(args.data) as fh:
        for line in fh:
            ws.append([float(v) for v in line.split(",")])
    wb.save(args.out)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="labctl")
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name, fn in (("fit", cmd_fit), ("plot", cmd_plot), ("export", cmd_export)):
        p = sub.add_parser(name)
        p.add_argument("data")
        p.add_argument("--out", default=f"{name}.out")
        p.set_defaults(fn=fn)
    args = ap.parse_args(argv)
    args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
