import h5py


def load_run(path: str) -> dict:
    with h5py.File(path, "r") as f:
        return {name: f["traces"][name][()] for name in f["traces"]}
