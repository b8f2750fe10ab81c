#!/usr/bin/env python3
"""An independent implementation of docs/placement.md in numpy, checked against what
`moescope placement --json` prints on random dumps written here with h5py: rank loads
under contiguous, round-robin and the global EPLB policy (with replicas), stragglers,
both dropped fractions and the all-to-all. Exits non-zero on the first disagreement."""
import json
import math
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

BIN = os.environ.get("MOESCOPE_BIN")
checks = 0


def close(a, b, what):
    global checks
    checks += 1
    if not np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=1e-9, atol=1e-9):
        print(f"FAIL: {what}: moescope {a} != reference {b}")
        sys.exit(1)


def write_dump(path, T, E, k, L, rng):
    with h5py.File(path, "w") as f:
        f.attrs.update({"format": "moe-routing", "format_version": 1, "num_experts": E, "top_k": k})
        f["tokens/ids"] = rng.integers(0, 100, size=T)
        layers = []
        for l in range(L):
            w = rng.lognormal(0, 1.0, size=E)
            w[rng.integers(E)] *= 5  # a hot expert
            ids = np.stack([rng.choice(E, size=k, replace=False, p=w / w.sum()) for _ in range(T)])
            g = f.create_group(f"layers/{l:02d}")
            g.attrs["index"] = l
            g["topk_ids"] = ids.astype(np.int32)
            layers.append(ids)
    return layers


def ranks_of(policy, counts, R, P):
    """The rank of every replica: a list per expert."""
    E = len(counts)
    if policy == "contiguous":
        return [[e // (E // R)] for e in range(E)]
    if policy == "round-robin":
        return [[e % R] for e in range(E)]
    reps = np.ones(E, dtype=int)
    for _ in range(P - E):
        reps[int(np.argmax(counts / reps))] += 1
    items = sorted(((counts[e] / reps[e], e) for e in range(E) for _ in range(reps[e])), key=lambda x: -x[0])
    load, n, out = np.zeros(R), np.zeros(R, dtype=int), [[] for _ in range(E)]
    for x, e in items:
        open_ranks = [r for r in range(R) if n[r] < P // R]
        r = min(open_ranks, key=lambda q: load[q])
        load[r] += x
        n[r] += 1
        out[e].append(r)
    return out


def check(path, layers, E, k, R, policy, P, cf=1.25):
    args = [BIN, "placement", path, "--ranks", str(R), "--policy", policy, "--json"]
    if policy == "eplb":
        args += ["--replicas", str(P)]
    out = json.loads(subprocess.run(args, capture_output=True, text=True, check=True).stdout)
    maxes, means = 0.0, 0.0
    for ids, got in zip(layers, out["layers"]):
        T = len(ids)
        counts = np.bincount(ids.ravel(), minlength=E).astype(float)
        where = ranks_of(policy, counts, R, P)
        L = np.zeros(R)
        for e in range(E):
            for r in where[e]:
                L[r] += counts[e] / len(where[e])
        what = f"{path} {policy} R={R} P={P} layer {got['name']}"
        if policy == "eplb":  # equal loads may land on other ranks: compare as sets
            close(sorted(got["rank_load"]), sorted(L), what + " rank loads")
        else:
            close(got["rank_load"], L, what + " rank loads")
        close(got["straggler"], L.max() / L.mean(), what + " straggler")
        C = math.ceil(cf * k * T / E)
        close(got["dropped_fraction"], np.maximum(counts - C, 0).sum() / (k * T), what + " dropped")
        close(got["rank_pooled_dropped_fraction"], np.maximum(np.array(got["rank_load"]) - cf * k * T / R, 0).sum() / (k * T),
              what + " pooled")
        if policy != "eplb":
            V = np.zeros((R, R))
            src = np.arange(T) * R // T
            for i in range(k):
                np.add.at(V, (src, [where[e][0] for e in ids[:, i]]), 1)
            close(got["all_to_all"], V, what + " all-to-all")
            close(got["leaving_share"], (V.sum() - np.trace(V)) / (k * T), what + " leaving")
        else:
            close(np.sum(got["all_to_all"]), k * T, what + " all-to-all total")
        maxes += L.max()
        means += L.mean()
    close(out["model_straggler"], maxes / means, f"{path} {policy} model straggler")


def main():
    if not BIN:
        print("MOESCOPE_BIN not set")
        return 1
    rng = np.random.default_rng(2026)
    with tempfile.TemporaryDirectory() as tmp:
        for T, E, k, L, R in [(500, 8, 2, 2, 4), (800, 16, 4, 3, 8), (600, 64, 6, 2, 16)]:
            path = os.path.join(tmp, f"d{E}.h5")
            layers = write_dump(path, T, E, k, L, rng)
            for policy, P in [("contiguous", E), ("round-robin", E), ("eplb", E), ("eplb", E + R), ("eplb", E + 2 * R)]:
                check(path, layers, E, k, R, policy, P)
    print(f"placement_check: {checks} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
