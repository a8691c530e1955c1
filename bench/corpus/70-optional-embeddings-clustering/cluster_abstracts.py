"""Embed paper abstracts, reduce with UMAP and cluster with HDBSCAN (GPU node if available)."""
import argparse
import os
import sys

import hdbscan
import numpy as np
import pandas as pd
import umap
from sentence_transformers import SentenceTransformer
from sklearn.feature_extraction.text import TfidfVectorizer

try:
    import ujson as json
except ImportError:
    import json

try:
    import cloudpickle as pickle
except ImportError:  # plain pickle cannot store the lambda in the UMAP metric below
    import pickle

try:
    from tqdm import tqdm
except ImportError:
    def tqdm(it, **_):
        return it


def top_terms(texts, labels, n=8):
    vec = TfidfVectorizer(max_features=20000, stop_words="english", ngram_range=(1, 2))
    X = vec.fit_transform(texts)
    vocab = np.array(vec.get_feature_names_out())
    out = {}
    for lab in tqdm(sorted(set(labels) - {-1}), desc="terms"):
        centroid = np.asarray(X[labels == lab].mean(axis=0)).ravel()
        out[int(lab)] = vocab[np.argsort(centroid)[::-1][:n]].tolist()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("jsonl")
    ap.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
    ap.add_argument("--min-cluster-size", type=int, default=40)
    ap.add_argument("--out", default="clusters")
    args = ap.parse_args()

    with open(args.jsonl) as fh:
        papers = pd.DataFrame([json.loads(line) for line in fh])
    texts = (papers["title"] + ". " + papers["abstract"].fillna("")).tolist()
    model = SentenceTransformer(args.model, cache_folder=os.environ.get("HF_HOME"))
    emb = model.encode(texts, batch_size=256, show_progress_bar=sys.stderr.isatty(), normalize_embeddings=True)

    reducer = umap.UMAP(n_neighbors=30, n_components=10, min_dist=0.0, metric="cosine", random_state=0)
    low = reducer.fit_transform(emb)
    clusterer = hdbscan.HDBSCAN(min_cluster_size=args.min_cluster_size, metric="euclidean",
                                cluster_selection_method="eom", prediction_data=True)
    labels = clusterer.fit_predict(low)

    os.makedirs(args.out, exist_ok=True)
    papers["cluster"] = labels
    papers[["id", "title", "cluster"]].to_csv(os.path.join(args.out, "assignments.csv"), index=False)
    with open(os.path.join(args.out, "terms.json"), "w") as fh:
        fh.write(json.dumps(top_terms(texts, labels)))
    with open(os.path.join(args.out, "umap.pkl"), "wb") as fh:
        pickle.dump(reducer, fh)
    print(f"{labels.max() + 1} clusters, {np.mean(labels == -1):.1%} noise")


if __name__ == "__main__":
    main()
