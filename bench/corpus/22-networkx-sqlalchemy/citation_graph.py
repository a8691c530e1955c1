"""Build a citation graph from a SQL database and rank papers by PageRank."""

import argparse
import csv

import networkx as nx
from sqlalchemy import create_engine, text
from tqdm.auto import tqdm

QUERY = text("SELECT citing_id, cited_id FROM citations WHERE year >= :since")


def load_graph(url: str, since: int) -> nx.DiGraph:
    engine = create_engine(url, pool_pre_ping=True)
    graph = nx.DiGraph()
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True).execute(QUERY, {"since": since})
        for citing, cited in tqdm(result, desc="edges", unit="edge"):
            graph.add_edge(citing, cited)
    return graph


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default="postgresql+psycopg://reader@db/papers")
    ap.add_argument("--since", type=int, default=2010)
    ap.add_argument("--top", type=int, default=50)
    args = ap.parse_args()

    graph = load_graph(args.db, args.since)
    print(f"{graph.number_of_nodes()} papers, {graph.number_of_edges()} citations")
    rank = nx.pagerank(graph, alpha=0.85)
    components = nx.number_weakly_connected_components(graph)
    print(f"{components} weakly connected components")
    with open("pagerank_top.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["paper_id", "pagerank", "in_degree"])
        for node, score in sorted(rank.items(), key=lambda kv: -kv[1])[: args.top]:
            writer.writerow([node, f"{score:.6g}", graph.in_degree(node)])


if __name__ == "__main__":
    main()
