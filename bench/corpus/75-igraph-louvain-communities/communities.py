"""Compare Louvain and Leiden communities on a co-expression network built from a correlation matrix."""
import argparse

import community as community_louvain
import igraph as ig
import leidenalg
import networkx as nx
import numpy as np
import pandas as pd
from networkx.algorithms.community import modularity
from scipy import sparse
from sklearn.metrics import adjusted_rand_score


def build_graph(expr, threshold):
    corr = np.corrcoef(expr.to_numpy())
    np.fill_diagonal(corr, 0.0)
    adj = sparse.csr_matrix(np.where(np.abs(corr) >= threshold, np.abs(corr), 0.0))
    g = nx.from_scipy_sparse_array(adj)
    return nx.relabel_nodes(g, dict(enumerate(expr.index)))


def louvain(g, seed):
    part = community_louvain.best_partition(g, weight="weight", random_state=seed)
    return part, community_louvain.modularity(part, g, weight="weight")


def leiden(g, seed):
    h = ig.Graph.from_networkx(g)
    part = leidenalg.find_partition(h, leidenalg.ModularityVertexPartition, weights="weight", seed=seed)
    names = h.vs["_nx_name"]
    return {names[v]: c for c, members in enumerate(part) for v in members}, part.modularity


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("expression", help="genes x samples TSV (log CPM)")
    ap.add_argument("--threshold", type=float, default=0.7)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    expr = pd.read_csv(args.expression, sep="\t", index_col=0)
    expr = expr[expr.var(axis=1) > expr.var(axis=1).quantile(0.5)]
    g = build_graph(expr, args.threshold)
    g.remove_nodes_from(list(nx.isolates(g)))
    lv, q_lv = louvain(g, args.seed)
    ld, q_ld = leiden(g, args.seed)
    genes = sorted(g.nodes)
    ari = adjusted_rand_score([lv[n] for n in genes], [ld[n] for n in genes])
    sets = [set(n for n in genes if ld[n] == c) for c in set(ld.values())]
    print(f"{g.number_of_nodes()} genes, {g.number_of_edges()} edges")
    print(f"louvain Q={q_lv:.3f} ({len(set(lv.values()))} comms), leiden Q={q_ld:.3f} ({len(sets)} comms), "
          f"nx Q={modularity(g, sets):.3f}, ARI={ari:.3f}")
    pd.DataFrame({"gene": genes, "louvain": [lv[n] for n in genes], "leiden": [ld[n] for n in genes]}).to_csv(
        "modules.tsv", sep="\t", index=False)


if __name__ == "__main__":
    main()
