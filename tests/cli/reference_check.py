#!/usr/bin/env python3
"""An independent implementation of docs/routing.md in numpy (float64),
checked against what `moescope stats|profile|route --json` prints on random dumps of
every kind written here with h5py. Exits non-zero on the first disagreement."""
import csv
import json
import math
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

BIN = os.environ.get("MOESCOPE_BIN")
RTOL = 1e-6
checks = 0


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def close(a, b, what, rtol=RTOL):
    global checks
    checks += 1
    if a is None or b is None:
        if a is not b:
            fail(f"{what}: {a} != {b}")
        return
    if not math.isclose(a, b, rel_tol=rtol, abs_tol=1e-9):
        fail(f"{what}: moescope {a} != reference {b}")


def same(a, b, what):
    global checks
    checks += 1
    if list(a) != list(b):
        fail(f"{what}: moescope {list(a)} != reference {list(b)}")


def scores(z, scoring, probs_input):
    if probs_input:
        return z.copy()
    if scoring == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    m = z.max(axis=1, keepdims=True)
    e = np.exp(z - m)
    return e / e.sum(axis=1, keepdims=True)


def choose(z, k, scoring="softmax", bias=None, n_group=0, topk_group=0, probs_input=False):
    """Returns (ids [T, k], p [T, E], valid [T])."""
    valid = np.isfinite(z).all(axis=1)
    zz = np.where(valid[:, None], z, 0.0)
    p = scores(zz, scoring, probs_input)
    key = p + (bias if bias is not None else 0.0)
    E = z.shape[1]
    if n_group and n_group > 1 and 0 < topk_group < n_group:
        size = E // n_group
        grouped = np.sort(key.reshape(len(z), n_group, size), axis=2)[:, :, ::-1]
        gscore = grouped[:, :, : min(2, size)].sum(axis=2)
        best_groups = np.argsort(-gscore, axis=1, kind="stable")[:, :topk_group]
        mask = np.zeros((len(z), n_group), bool)
        np.put_along_axis(mask, best_groups, True, axis=1)
        key = np.where(np.repeat(mask, size, axis=1), key, -np.inf)
    ids = np.argsort(-key, axis=1, kind="stable")[:, :k]
    return ids, p, valid


def counts_of(ids, valid, E):
    c = np.zeros(E, np.int64)
    for t in np.nonzero(valid)[0]:
        for e in set(ids[t].tolist()):
            c[e] += 1
    return c


def drops(ids, valid, E, k, cf, offsets, per_sequence=False, gate=None):
    groups = [(offsets[s], offsets[s + 1]) for s in range(len(offsets) - 1)] if per_sequence else [(0, len(ids))]
    lost = np.zeros(len(ids), np.int64)
    dropped = 0
    for a, b in groups:
        tokens = [t for t in range(a, b) if valid[t]]
        cap = math.ceil(cf * k * len(tokens) / E)
        if gate is None:  # token order: slot 0 of every token, then slot 1, ...
            order = [(t, s) for s in range(k) for t in tokens]
        else:  # score priority: descending p, ties by position, then slot
            order = sorted(((t, s) for t in tokens for s in range(k)), key=lambda ts: (-gate[ts[0], ts[1]], ts[0], ts[1]))
        fill = np.zeros(E, np.int64)
        for t, s in order:
            e = ids[t, s]
            if fill[e] < cap:
                fill[e] += 1
            else:
                lost[t] += 1
                dropped += 1
    T = int(valid.sum())
    return dropped / (k * T), int((lost >= k).sum()) / T


def layer_reference(f, name, k_dump, cf, reroute=None):
    g = f["layers"][name]
    E = int(f.attrs["num_experts"])
    offsets = f["tokens/sequence_offsets"][()] if "sequence_offsets" in f["tokens"] else np.array([0, len(f["tokens/ids"])])
    z = g["logits"][()].astype(np.float64) if "logits" in g else None
    bias = g["expert_bias"][()].astype(np.float64) if "expert_bias" in g else None
    probs_input = False
    if z is not None:
        head = z[: min(len(z), 4096)]
        fin = np.isfinite(head).all(axis=1)
        tol = 2e-2 if g["logits"].dtype == np.float16 else 1e-4
        probs_input = bool(fin.any() and (head[fin] >= 0).all() and (np.abs(head[fin].sum(axis=1) - 1) <= tol).all())
    scoring = f.attrs.get("scoring", "softmax")
    if isinstance(scoring, bytes):
        scoring = scoring.decode()
    k = k_dump
    if reroute is not None:
        scoring = reroute.get("scoring", scoring)
        k = reroute.get("top_k", k)
    if reroute is None and "topk_ids" in g:
        ids = g["topk_ids"][()].astype(np.int64)
        valid = np.ones(len(ids), bool)
        p = None
    else:
        ids, p, valid = choose(z, k, scoring, bias, int(f.attrs.get("n_group", 0)), int(f.attrs.get("topk_group", 0)), probs_input)
    T = int(valid.sum())
    c = counts_of(ids, valid, E)
    m = k * T / E
    u = c / (k * T)
    out = {"counts": c.tolist(), "hot": [e for e in range(E) if c[e] > cf * m], "cold": [e for e in range(E) if c[e] < 0.1 * m],
           "cv": float(np.sqrt(((c - m) ** 2).mean()) / m), "max_vio": float((c.max() - m) / m),
           "entropy": 0.0 if E == 1 else float(-sum(x * math.log(x) for x in u if x > 0) / math.log(E))}
    if z is not None:
        lvalid = np.isfinite(z).all(axis=1)
        zl = z[lvalid]
        P = zl.mean(axis=0) if probs_input else scores(zl, "softmax", False).mean(axis=0)
        out["lb_loss"] = float(E * np.sum(c / T * P))
        if probs_input:
            out["z_loss"] = None
        else:
            mx = zl.max(axis=1)
            lse = mx + np.log(np.exp(zl - mx[:, None]).sum(axis=1))
            out["z_loss"] = float((lse ** 2).mean())
        out["invalid_tokens"] = int((~lvalid).sum())
    else:
        out["lb_loss"] = out["z_loss"] = None
        out["invalid_tokens"] = 0
    policy = (reroute or {}).get("drop", "token-order")
    per_seq = (reroute or {}).get("group", "dump") == "sequence"
    if policy == "none":
        out["dropped_fraction"], out["fully_dropped_fraction"] = 0.0, 0.0
    else:
        gate = None
        if policy == "score-priority":
            gate = np.take_along_axis(p, ids, axis=1).astype(np.float32)
        out["dropped_fraction"], out["fully_dropped_fraction"] = drops(ids, valid, E, k, cf, offsets, per_seq, gate)
    if "sequence_labels" in f["tokens"]:
        labels = [x.decode() if isinstance(x, bytes) else x for x in f["tokens/sequence_labels"][()]]
        shares = {}
        for label in sorted(set(labels)):
            mask = np.zeros(len(ids), bool)
            for s, lab in enumerate(labels):
                if lab == label:
                    mask[offsets[s]: offsets[s + 1]] = True
            lc = counts_of(ids, valid & mask, E)
            n = int((valid & mask).sum())
            shares[label] = (lc / (k * n)).tolist() if n else [0.0] * E
        out["label_shares"] = shares
    if reroute is not None and "topk_ids" in g:
        rec = g["topk_ids"][()]
        agree = [set(ids[t].tolist()) == set(rec[t].tolist()) for t in np.nonzero(valid)[0]]
        out["agreement"] = float(np.mean(agree))
    out["_ids"], out["_valid"] = ids, valid
    return out


def ordered_layers(f):
    names = list(f["layers"].keys())
    if all("index" in f["layers"][n].attrs for n in names):
        names.sort(key=lambda n: int(f["layers"][n].attrs["index"]))
    else:
        names.sort()
    return names


def compare_layer(got, ref, what):
    same(got["counts"], ref["counts"], what + " counts")
    same(got["hot"], ref["hot"], what + " hot")
    same(got["cold"], ref["cold"], what + " cold")
    for key in ("cv", "max_vio", "entropy", "lb_loss", "z_loss", "dropped_fraction", "fully_dropped_fraction"):
        close(got[key], ref[key], f"{what} {key}")
    same([got["invalid_tokens"]], [ref["invalid_tokens"]], what + " invalid_tokens")
    if "label_shares" in ref:
        for label, shares in ref["label_shares"].items():
            for e, (a, b) in enumerate(zip(got["label_shares"][label], shares)):
                close(a, b, f"{what} label_shares[{label}][{e}]")
    if "agreement" in ref:
        close(got["agreement"], ref["agreement"], what + " agreement")


def run(args):
    r = subprocess.run([BIN] + args, capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"moescope {' '.join(args)} exited {r.returncode}: {r.stderr}")
    return json.loads(r.stdout)


def check_dump(path, cf_arg=None, routes=()):
    with h5py.File(path, "r") as f:
        k = int(f.attrs["top_k"])
        cf = cf_arg if cf_arg is not None else (float(f.attrs["capacity_factor"]) if f.attrs.get("capacity_factor", 0) > 0 else 1.25)
        args = ["stats", path, "--json"] + (["--capacity-factor", str(cf_arg)] if cf_arg is not None else [])
        got = run(args)
        close(got["capacity_factor"], cf, "capacity_factor")
        names = ordered_layers(f)
        refs = {}
        for pos, name in enumerate(names):
            refs[name] = layer_reference(f, name, k, cf)
            compare_layer(got["layers"][pos], refs[name], f"{path} stats layer {name}")
        # Profiles of two experts of the first layer.
        tokens = f["tokens/ids"][()]
        for e in (0, int(f.attrs["num_experts"]) - 1):
            prof = run(["profile", path, "--layer", "0", "--expert", str(e), "--top", "1000", "--json"])
            ref = refs[names[0]]
            ids, valid = ref["_ids"], ref["_valid"]
            T = int(valid.sum())
            hit = np.array([valid[t] and e in ids[t] for t in range(len(ids))])
            same([prof["routed"]], [int(hit.sum())], f"{path} profile routed e{e}")
            rows = []
            for v in sorted(set(tokens[hit].tolist())):
                n = int((tokens[hit] == v).sum())
                occ = int((tokens[valid] == v).sum())
                rows.append((-n, v, n / occ, (n / hit.sum()) / (occ / T)))
            rows.sort()
            same([t["id"] for t in prof["tokens"]], [r[1] for r in rows], f"{path} profile ids e{e}")
            for t, r in zip(prof["tokens"], rows):
                close(t["share"], r[2], f"{path} profile share")
                close(t["lift"], r[3], f"{path} profile lift")
        check_pairs(path, [refs[n] for n in names], int(f.attrs["num_experts"]))
        for reroute in routes:
            args = ["route", path, "--json", "--device", "cpu", "--capacity-factor", str(cf)]
            if "scoring" in reroute:
                args += ["--scoring", reroute["scoring"]]
            if "top_k" in reroute:
                args += ["--top-k", str(reroute["top_k"])]
            args += ["--drop", reroute.get("drop", "token-order"), "--capacity-group", reroute.get("group", "dump")]
            got = run(args)
            logit_layers = [n for n in names if "logits" in f["layers"][n]]
            same([l["name"] for l in got["layers"]], logit_layers, f"{path} route layers")
            for pos, name in enumerate(logit_layers):
                ref = layer_reference(f, name, k, cf, reroute)
                compare_layer(got["layers"][pos], ref, f"{path} route {reroute} layer {name}")


def read_pairs_csv(path, first):
    """The E x E counts of an exported pair chart; `first` is the e1 column."""
    with open(path) as f:
        rows = list(csv.reader(f))[1:]
    E = int(round(math.sqrt(len(rows))))
    m = np.zeros((E, E), np.int64)
    for r in rows:
        m[int(r[first]), int(r[first + 1])] = int(r[first + 2])
    return m


def check_pairs(path, refs, E):
    """Co-activation of the first layer and transitions from it (routing.md,
    specialisation), as `export` writes them, against the choices of `stats`."""
    ids, valid = refs[0]["_ids"], refs[0]["_valid"]
    out = path + ".pairs.csv"
    if ids.shape[1] > 1:
        chosen = np.zeros((len(ids), E), np.int64)  # a repeated id counts once
        rows = np.nonzero(valid)[0]
        chosen[np.repeat(rows, ids.shape[1]), ids[rows].ravel()] = 1
        run_export(["export", path, "--chart", "co-activation", "--layer", "0", "-o", out])
        same(read_pairs_csv(out, 1).ravel().tolist(), (chosen.T @ chosen).ravel().tolist(), f"{path} co-activation")
    if len(refs) > 1:
        ids2, valid2 = refs[1]["_ids"], refs[1]["_valid"]
        both = valid & valid2
        m = np.zeros((E, E), np.int64)
        np.add.at(m, (ids[both, 0], ids2[both, 0]), 1)
        run_export(["export", path, "--chart", "transitions", "--layer", "0", "-o", out])
        same(read_pairs_csv(out, 2).ravel().tolist(), m.ravel().tolist(), f"{path} transitions")


def run_export(args):
    r = subprocess.run([BIN] + args, capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"moescope {' '.join(args)} exited {r.returncode}: {r.stderr}")


def write_dump(path, rng, T, E, k, layers, dtype=np.float32, recorded=(), topk_only=(), nan_rows=0,
               attrs=None, bias_layers=(), probs_layers=(), labels=True, contiguous=False):
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "moe-routing"
        f.attrs["format_version"] = 1
        f.attrs["num_experts"] = E
        f.attrs["top_k"] = k
        for key, v in (attrs or {}).items():
            f.attrs[key] = v
        V = 50
        f["tokens/ids"] = rng.integers(0, V, T)
        f["tokens/vocab"] = np.array([f"w{i}" for i in range(V)], dtype=h5py.string_dtype())
        if labels:
            cuts = sorted(rng.choice(np.arange(1, T), 3, replace=False).tolist())
            f["tokens/sequence_offsets"] = np.array([0] + cuts + [T])
            f["tokens/sequence_labels"] = np.array(["python", "english", "python", "german"], dtype=h5py.string_dtype())
        for l in range(layers):
            g = f.create_group(f"layers/L{l}")
            g.attrs["index"] = layers - l  # reverse of name order on purpose
            z = rng.normal(size=(T, E)) + rng.normal(size=E) * 1.5
            if l in probs_layers:
                z = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
            if nan_rows and l not in probs_layers:
                rows = rng.choice(T, nan_rows, replace=False)
                z[rows[: nan_rows // 2], 0] = np.nan
                z[rows[nan_rows // 2:], E - 1] = np.inf
            if l not in topk_only:
                if contiguous:  # stored plainly: float16 is then mapped, not read
                    g.create_dataset("logits", data=z.astype(dtype))
                else:
                    g.create_dataset("logits", data=z.astype(dtype), chunks=(min(T, 97), E), compression="gzip",
                                     shuffle=True)
            if l in recorded or l in topk_only:
                g["topk_ids"] = rng.integers(0, E, (T, k)).astype(np.int16)
            if l in bias_layers:
                g["expert_bias"] = (rng.normal(size=E) * 0.1).astype(np.float32)


def main():
    if not BIN or not os.path.exists(BIN):
        fail("MOESCOPE_BIN is not set to the moescope binary")
    rng = np.random.default_rng(2026)
    with tempfile.TemporaryDirectory() as d:
        cases = [
            ("f16 logits, NaN rows", dict(T=1500, E=8, k=2, layers=3, dtype=np.float16, nan_rows=10),
             None, [dict(drop="token-order"), dict(scoring="sigmoid", top_k=3, drop="score-priority", group="sequence")]),
            # OLMoE-like and odd shapes: the rows-in-lanes kernel, its id stores and tail rows.
            ("f16, E 64, k 8", dict(T=2011, E=64, k=8, layers=2, dtype=np.float16, nan_rows=3, contiguous=True),
             None, [dict(drop="token-order"), dict(top_k=6, drop="score-priority")]),
            ("f16, E 60, k 5", dict(T=1111, E=60, k=5, layers=1, dtype=np.float16),
             None, [dict(top_k=1), dict(top_k=4, drop="none")]),
            ("recorded + logits", dict(T=800, E=16, k=4, layers=2, recorded=(0,), nan_rows=4),
             1.5, [dict(drop="none")]),
            ("topk only", dict(T=600, E=5, k=1, layers=2, topk_only=(0, 1)), None, []),
            ("sigmoid, bias, groups, f64", dict(T=700, E=16, k=4, layers=2, dtype=np.float64, bias_layers=(0, 1),
                                                attrs=dict(scoring="sigmoid", normalize_topk=0, n_group=4, topk_group=2)),
             None, [dict(drop="token-order", group="sequence")]),
            ("probabilities", dict(T=400, E=6, k=2, layers=2, probs_layers=(1,)), None, []),
            ("one expert", dict(T=300, E=1, k=1, layers=1, labels=False), None, [dict()]),
            ("dump capacity factor", dict(T=500, E=4, k=2, layers=1, attrs=dict(capacity_factor=2.0)), None, []),
        ]
        for i, (title, spec, cf, routes) in enumerate(cases):
            path = os.path.join(d, f"case{i}.h5")
            write_dump(path, rng, **spec)
            check_dump(path, cf, routes)
            print(f"ok: {title}")
    print(f"{checks} passed, 0 failed")


if __name__ == "__main__":
    main()
