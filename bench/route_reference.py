#!/usr/bin/python3
"""The `moescope route` workload done with numpy or PyTorch, for the benchmark
(RouteBench.cpp): per layer, stream the logits in 65,536-row chunks with h5py, softmax,
top-k, bincount, the mean probabilities and the z-loss terms. Prints one JSON line with
the wall time (end to end: open, read, compute) and the counts per layer.

usage: route_reference.py FILE numpy|torch THREADS
"""
import json
import sys
import time

import h5py
import numpy as np

CHUNK = 65536


def layer_names(f):
    layers = f["layers"]
    names = list(layers)
    if all("index" in layers[n].attrs for n in names):
        return sorted(names, key=lambda n: int(layers[n].attrs["index"]))
    return sorted(names)


def route_numpy(ds, E, k):
    counts = np.zeros(E, np.int64)
    prob = np.zeros(E)
    z2 = 0.0
    for b in range(0, ds.shape[0], CHUNK):
        z = ds[b:b + CHUNK].astype(np.float32)
        m = z.max(axis=1, keepdims=True)
        e = np.exp(z - m)
        s = e.sum(axis=1, keepdims=True)
        prob += (e / s).sum(axis=0)
        z2 += float(((m[:, 0] + np.log(s[:, 0])) ** 2).sum())
        ids = np.argpartition(-z, k - 1, axis=1)[:, :k]
        counts += np.bincount(ids.ravel(), minlength=E)
    return counts


def route_torch(ds, E, k):
    import torch
    counts = torch.zeros(E, dtype=torch.int64)
    prob = torch.zeros(E, dtype=torch.float64)
    z2 = 0.0
    for b in range(0, ds.shape[0], CHUNK):
        z = torch.from_numpy(ds[b:b + CHUNK]).float()
        prob += torch.softmax(z, dim=1).sum(dim=0).double()
        z2 += float((torch.logsumexp(z, dim=1) ** 2).sum())
        ids = torch.topk(z, k, dim=1).indices
        counts += torch.bincount(ids.flatten(), minlength=E)
    return counts.numpy()


def main():
    path, engine, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if engine == "torch":
        import torch
        torch.set_num_threads(threads)
    start = time.perf_counter()
    out = []
    with h5py.File(path, "r") as f:
        E, k = int(f.attrs["num_experts"]), int(f.attrs["top_k"])
        for name in layer_names(f):
            ds = f["layers"][name]["logits"]
            counts = route_numpy(ds, E, k) if engine == "numpy" else route_torch(ds, E, k)
            out.append([int(c) for c in counts])
    seconds = time.perf_counter() - start
    print(json.dumps({"engine": engine, "seconds": seconds, "counts": out}))


if __name__ == "__main__":
    main()
