"""Plot a fitted response surface in 3-D next to its contour map."""

import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import cm
from mpl_toolkits.mplot3d import Axes3D  # noqa: F401  (registers the 3d projection)
from mpl_toolkits.axes_grid1 import make_axes_locatable


def response(x, y, a=1.3, b=0.4):
    return np.sin(a * x) * np.cos(b * y) * np.exp(-0.05 * (x**2 + y**2))


def main(out="surface.png"):
    x = np.linspace(-6, 6, 200)
    y = np.linspace(-6, 6, 200)
    X, Y = np.meshgrid(x, y)
    Z = response(X, Y)

    fig = plt.figure(figsize=(12, 5))
    ax3d = fig.add_subplot(1, 2, 1, projection="3d")
    ax3d.plot_surface(X, Y, Z, cmap=cm.viridis, linewidth=0, antialiased=True)
    ax3d.set(xlabel="dose", ylabel="time", zlabel="response")

    ax2d = fig.add_subplot(1, 2, 2)
    cs = ax2d.contourf(X, Y, Z, levels=30, cmap=cm.viridis)
    cax = make_axes_locatable(ax2d).append_axes("right", size="5%", pad=0.05)
    fig.colorbar(cs, cax=cax)
    fig.tight_layout()
    fig.savefig(out, dpi=150)


if __name__ == "__main__":
    main(*sys.argv[1:])
