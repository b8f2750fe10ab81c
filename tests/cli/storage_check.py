#!/usr/bin/env python3
"""How a dump is stored must not change a single number: `moescope stats --json` on
the same logits written contiguously and with every chunking and filter mix h5py
users write (gzip at any level, shuffle, chunks that split rows or hold one column,
Fletcher32 and scale-offset, which HDF5 itself undoes), in float16/32/64 of either
byte order. Guards the reader's own inflation of compressed chunks. Exits non-zero on
the first difference."""
import json
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

BIN = os.environ.get("MOESCOPE_BIN", "")


def write(path, z, dtype, **storage):
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "moe-routing"
        f.attrs["format_version"] = 1
        f.attrs["num_experts"] = z.shape[2]
        f.attrs["top_k"] = 2
        f["tokens/ids"] = np.arange(z.shape[1]) % 97
        for l in range(z.shape[0]):
            g = f.create_group(f"layers/{l}")
            g.attrs["index"] = l
            g.create_dataset("logits", data=z[l].astype(dtype), **storage)


def stats(path):
    r = subprocess.run([BIN, "stats", path, "--json"], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"FAIL: moescope stats {path} exited {r.returncode}: {r.stderr}")
    report = json.loads(r.stdout)
    report.pop("file")
    return report


def main():
    if not BIN or not os.path.exists(BIN):
        sys.exit("FAIL: MOESCOPE_BIN is not set to the moescope binary")
    rng = np.random.default_rng(11)
    cases = 0
    with tempfile.TemporaryDirectory() as d:
        plain, stored = os.path.join(d, "plain.h5"), os.path.join(d, "stored.h5")
        for T, E in [(3001, 60), (777, 8)]:
            z = rng.normal(size=(2, T, E)) * 2
            z[0, 5, 3] = np.nan  # an invalid token must stay invalid
            for dtype in ["<f2", ">f2", "<f4", ">f4", "<f8"]:
                write(plain, z, dtype)
                expected = stats(plain)
                for storage in [
                    dict(compression="gzip"),
                    dict(compression="gzip", shuffle=True, chunks=True),
                    dict(compression="gzip", compression_opts=9, shuffle=True, chunks=(min(T, 1000), E // 3 + 1)),
                    dict(shuffle=True, chunks=(min(T, 333), E)),
                    dict(compression="gzip", chunks=(T, 1)),
                    dict(compression="gzip", fletcher32=True, chunks=True),
                    dict(compression="gzip", scaleoffset=None, chunks=(64, E)),
                ]:
                    write(stored, z, dtype, **storage)
                    cases += 1
                    if stats(stored) != expected:
                        sys.exit(f"FAIL: T={T} E={E} {dtype} {storage}: stats differ from the contiguous dump's")
    print(f"{cases} storage variants give the contiguous dump's numbers")


if __name__ == "__main__":
    main()
