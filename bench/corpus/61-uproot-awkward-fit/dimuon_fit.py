"""Dimuon invariant mass from NanoAOD-like ROOT files, with an unbinned fit of the Z peak.

    python dimuon_fit.py 'root://eos.example.org//store/data/*.root' --plot
"""
import argparse

import awkward as ak
import numpy as np
import uproot
import vector
from hist import Hist

vector.register_awkward()

BRANCHES = ["Muon_pt", "Muon_eta", "Muon_phi", "Muon_mass", "Muon_charge", "Muon_tightId"]


def dimuon_mass(files, step_size="200 MB"):
    masses = []
    for batch in uproot.iterate({f: "Events" for f in files}, BRANCHES, step_size=step_size, library="ak"):
        good = batch.Muon_tightId & (batch.Muon_pt > 20) & (abs(batch.Muon_eta) < 2.4)
        mu = ak.zip({"pt": batch.Muon_pt[good], "eta": batch.Muon_eta[good],
                     "phi": batch.Muon_phi[good], "mass": batch.Muon_mass[good],
                     "charge": batch.Muon_charge[good]}, with_name="Momentum4D")
        pairs = ak.combinations(mu[ak.num(mu) >= 2], 2, fields=["a", "b"])
        os_pairs = pairs[pairs.a.charge != pairs.b.charge]
        masses.append(ak.to_numpy(ak.flatten((os_pairs.a + os_pairs.b).mass)))
    return np.concatenate(masses) if masses else np.array([])


def fit_peak(m, lo=70.0, hi=110.0):
    from iminuit import Minuit
    from iminuit.cost import UnbinnedNLL
    from scipy.stats import cauchy, expon

    m = m[(m > lo) & (m < hi)]

    def pdf(x, f, mz, gamma, tau):
        sig = cauchy.pdf(x, mz, gamma / 2) / (cauchy.cdf(hi, mz, gamma / 2) - cauchy.cdf(lo, mz, gamma / 2))
        bkg = expon.pdf(x - lo, scale=tau) / expon.cdf(hi - lo, scale=tau)
        return f * sig + (1 - f) * bkg

    mi = Minuit(UnbinnedNLL(m, pdf), f=0.9, mz=91.0, gamma=2.5, tau=30.0)
    mi.limits["f"] = (0, 1)
    mi.limits["gamma"] = (0.1, 10)
    mi.migrad()
    mi.hesse()
    return mi


def plot(m, mi, path="dimuon.png"):
    import matplotlib.pyplot as plt
    import mplhep as hep
    hep.style.use("CMS")
    h = Hist.new.Reg(80, 70, 110, name="m", label=r"$m_{\mu\mu}$ [GeV]").Double().fill(m=m)
    fig, ax = plt.subplots()
    h.plot1d(ax=ax, histtype="errorbar", color="k")
    ax.set_title(f"mZ = {mi.values['mz']:.2f} ± {mi.errors['mz']:.2f} GeV")
    fig.savefig(path)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+")
    ap.add_argument("--plot", action="store_true")
    a = ap.parse_args()
    masses = dimuon_mass(a.files)
    fit = fit_peak(masses)
    print(fit)
    if a.plot:
        plot(masses, fit)
