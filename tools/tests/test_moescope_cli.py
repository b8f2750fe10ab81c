"""The C++ `moescope` reads the recorder's dumps and reports what numpy computes.

Runs only when MOESCOPE_BIN names the binary (e.g. build/app/moescope). Every
expected number comes from the topk_ids and logits as stored in the file, through
the numpy reference of routing.md; the logits are drawn on a coarse grid so that
ties are exact and no two distinct scores are close enough for float32 and
float64 to order them differently.
"""

import json
import os
import subprocess
import sys
import unittest

import h5py
import numpy as np

from moescope_recorder import DumpWriter, routing

from .support import TempDirTestCase, distinct_choices, grid_logits

CF = 1.25
LABELS = ["python", "english", "german"]


def _binary():
    return os.environ.get("MOESCOPE_BIN")


def _run(args):
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    proc = subprocess.run(
        [_binary()] + args, capture_output=True, text=True, timeout=120, env=env
    )
    if proc.returncode != 0:
        raise AssertionError(f"moescope {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError as err:
        raise AssertionError(f"moescope {' '.join(args)} printed no JSON ({err}):\n{proc.stdout[:2000]}")


def _skewed_choices(rng, rows, e, k):
    """Distinct choices that favour low expert ids, so that some experts run hot and some cold."""
    pref = rng.random((rows, e)) * np.geomspace(1.0, 400.0, e)
    return np.argsort(pref, axis=1, kind="stable")[:, :k]


def _expected(path, capacity_factor=CF):
    """Per-layer report computed in numpy from what the file holds."""
    with h5py.File(path, "r") as f:
        a = f.attrs
        e, k = int(a["num_experts"]), int(a["top_k"])
        rule = dict(
            scoring=str(a.get("scoring", "softmax")),
            normalize_topk=int(a.get("normalize_topk", 1)),
            n_group=int(a["n_group"]) if "n_group" in a else None,
            topk_group=int(a["topk_group"]) if "topk_group" in a else None,
        )
        t = f["tokens/ids"].shape[0]
        offsets = f["tokens/sequence_offsets"][()]
        labels = None
        if "sequence_labels" in f["tokens"]:
            raw = f["tokens/sequence_labels"][()]
            labels = [s.decode() if isinstance(s, bytes) else s for s in raw]
        row_label = None
        if labels:
            row_label = np.empty(t, dtype=object)
            for s, label in enumerate(labels):
                row_label[offsets[s] : offsets[s + 1]] = label
        layers = sorted(f["layers"].items(), key=lambda item: int(item[1].attrs["index"]))
        report = []
        for position, (name, g) in enumerate(layers):
            logits = g["logits"][()].astype(np.float64) if "logits" in g else None
            bias = g["expert_bias"][()] if "expert_bias" in g else None
            if "topk_ids" in g:
                ids = g["topk_ids"][()].astype(np.int64)
                counted = np.ones(t, dtype=bool)
            else:
                ids, _, counted = routing.choose(logits, k, expert_bias=bias, **rule)
            ids_c = ids[counted]
            t_l = int(counted.sum())
            counts = routing.expert_counts(ids_c, e)
            health = routing.load_health(counts, k, t_l, capacity_factor)
            dropped, fully, _ = routing.token_order_drops(ids_c, e, capacity_factor)
            entry = dict(
                position=position,
                name=name,
                index=int(g.attrs["index"]),
                counts=counts,
                hot=health["hot"],
                cold=health["cold"],
                cv=health["cv"],
                max_vio=health["max_vio"],
                entropy=health["entropy"],
                lb_loss=None,
                z_loss=None,
                dropped_fraction=dropped,
                fully_dropped_fraction=fully,
                invalid_tokens=0,
            )
            if logits is not None:
                ok = routing.valid_rows(logits)
                entry["invalid_tokens"] = int((~ok).sum())
                entry["lb_loss"] = routing.lb_loss(logits[ok], routing.expert_counts(ids[ok], e))
                entry["z_loss"] = routing.z_loss(logits[ok])
            if labels:
                shares = {}
                for label in dict.fromkeys(labels):
                    rows = counted & (row_label == label)
                    n = int(rows.sum())
                    shares[label] = routing.expert_counts(ids[rows], e) / (k * n) if n else np.zeros(e)
                entry["label_shares"] = shares
            report.append(entry)
        return dict(tokens=t, num_experts=e, top_k=k, layers=report)


class MoescopeCliTest(TempDirTestCase):
    @classmethod
    def setUpClass(cls):
        if not _binary():
            print(
                "\nMOESCOPE_BIN is not set: skipping the comparison of `moescope stats/info --json` "
                "with the recorder's own numbers",
                file=sys.stderr,
            )
            raise unittest.SkipTest("MOESCOPE_BIN is not set")

    # ---------------------------------------------------------------- dumps

    def softmax_dump(self):
        """Three layers, given out of order: recorded choices, logits only (with NaN rows), ids only."""
        rng = np.random.default_rng(11)
        e, k = 8, 2
        path = self.path("softmax.h5")
        vocab = [f"tok{i}" for i in range(50)] + ["Straße", "naïve"]
        with DumpWriter(path, e, k, vocab=vocab, model="cli check", checkpoint_step=3) as w:
            w.add_layer("10", index=5)
            w.add_layer("02", index=1)
            w.add_layer("x", index=3)
            for s, n in enumerate([40, 1, 77, 23, 64, 5, 90, 31, 12]):
                recorded = _skewed_choices(rng, n, e, k)
                logits_x = grid_logits(rng, n, e)
                if s == 2:
                    logits_x[[0, 5, 9]] = np.nan
                w.append_sequence(
                    rng.integers(0, len(vocab), n),
                    LABELS[s % 3],
                    layers={
                        "02": dict(logits=rng.normal(size=(n, e)) * 2, topk_ids=recorded,
                                   topk_weights=rng.random((n, k))),
                        "x": dict(logits=logits_x),
                        "10": dict(topk_ids=distinct_choices(rng, n, e, k)),
                    },
                )
        return path

    def sigmoid_dump(self):
        """Sigmoid scoring, k=3, unnormalised weights, a bias of whole numbers.

        With p in (0, 1) and b in {-1, 0, 1}, p + b ties only where p and b both tie.
        """
        rng = np.random.default_rng(12)
        e, k, n = 6, 3, 500
        path = self.path("sigmoid.h5")
        with DumpWriter(path, e, k, scoring="sigmoid", normalize_topk=0) as w:
            w.append_sequence(rng.integers(0, 1000, n), layers={"gate": dict(logits=grid_logits(rng, n, e))})
            w.set_expert_bias("gate", [0, 1, -1, 0, 1, 0])
        return path

    def grouped_dump(self):
        """Group-limited routing (DeepSeek-V3 style): 8 experts in 4 groups, best 2 eligible."""
        rng = np.random.default_rng(13)
        e, k, n = 8, 2, 600
        z = grid_logits(rng, n * 2, e, step=0.5, span=2.0)
        # Keep only rows where different group scores are not within float32 noise.
        p = routing.scores(z)
        top2 = -np.sort(-p.reshape(-1, 4, 2), axis=2)
        gs = np.sort(top2.sum(axis=2), axis=1)
        gaps = np.diff(gs, axis=1)
        z = z[((gaps == 0) | (gaps > 1e-4)).all(axis=1)][:n]
        path = self.path("grouped.h5")
        with DumpWriter(path, e, k, n_group=4, topk_group=2) as w:
            w.append_sequence(rng.integers(0, 1000, z.shape[0]), layers={"moe": dict(logits=z)})
        return path

    # ---------------------------------------------------------------- checks

    def compare_stats(self, path):
        got = _run(["stats", path, "--capacity-factor", str(CF), "--json"])
        want = _expected(path)
        for key in ("tokens", "num_experts", "top_k"):
            self.assertEqual(got[key], want[key], key)
        self.assertAlmostEqual(got["capacity_factor"], CF)
        self.assertEqual(len(got["layers"]), len(want["layers"]))
        for g, w in zip(got["layers"], want["layers"]):
            where = f"{os.path.basename(path)} layer {w['name']}"
            for key in ("position", "name", "index", "hot", "cold", "invalid_tokens"):
                self.assertEqual(g[key], w[key], f"{where}: {key}")
            self.assertEqual(list(g["counts"]), list(w["counts"]), f"{where}: counts")
            for key in ("cv", "max_vio", "entropy", "dropped_fraction", "fully_dropped_fraction",
                        "lb_loss", "z_loss"):
                if w[key] is None:
                    self.assertIsNone(g[key], f"{where}: {key}")
                else:
                    self.assertIsNotNone(g[key], f"{where}: {key}")
                    np.testing.assert_allclose(g[key], w[key], rtol=1e-4, atol=1e-7,
                                               err_msg=f"{where}: {key}")
            if "label_shares" in w:
                self.assertEqual(sorted(g["label_shares"]), sorted(w["label_shares"]), where)
                for label, shares in w["label_shares"].items():
                    np.testing.assert_allclose(g["label_shares"][label], shares, rtol=1e-6, atol=1e-9,
                                               err_msg=f"{where}: label_shares[{label}]")
            else:
                self.assertFalse(g.get("label_shares"), f"{where}: label_shares without labels")

    def test_stats_softmax_recorded_derived_and_id_only_layers(self):
        self.compare_stats(self.softmax_dump())

    def test_stats_sigmoid_with_expert_bias(self):
        self.compare_stats(self.sigmoid_dump())

    def test_stats_group_limited(self):
        self.compare_stats(self.grouped_dump())

    def test_info(self):
        path = self.softmax_dump()
        got = _run(["info", path, "--json"])
        want = _expected(path)
        for key in ("tokens", "num_experts", "top_k"):
            self.assertEqual(got[key], want[key], key)
        names = [l["name"] if isinstance(l, dict) else l for l in got["layers"]]
        self.assertEqual(names, [l["name"] for l in want["layers"]])
        # cli.md leaves the rest of the shape open; check what the binary reports.
        with h5py.File(path, "r") as f:
            if "sequences" in got:
                self.assertEqual(got["sequences"], len(f["tokens/sequence_offsets"]) - 1)
            if "labels" in got:
                self.assertEqual(sorted(got["labels"]), sorted(set(LABELS)))
            if "vocab_size" in got:
                self.assertEqual(got["vocab_size"], len(f["tokens/vocab"]))
            for layer in got["layers"]:
                if not isinstance(layer, dict):
                    continue
                g = f["layers"][layer["name"]]
                for field in ("logits", "topk_ids", "topk_weights", "expert_bias"):
                    if field in layer:
                        self.assertEqual(bool(layer[field]), field in g, f"layer {layer['name']}: {field}")


if __name__ == "__main__":
    unittest.main()
