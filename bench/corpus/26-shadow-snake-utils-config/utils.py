import json
import os


def clamp(value, lo, hi):
    return max(lo, min(hi, value))


def load_highscores(path):
    if not os.path.exists(path):
        return []
    with open(path) as fh:
        return json.load(fh)


def save_highscores(path, scores):
    with open(path, "w") as fh:
        json.dump(sorted(scores, reverse=True)[:10], fh)
