"""TrainingLog: the /training series round-trips through a dump."""

import os
import unittest

import h5py
import numpy as np

from moescope_recorder import DumpError, DumpWriter, TrainingLog, routing

from .support import TempDirTestCase


def _fill(log, rng, steps, layers=3, experts=6):
    expected = {"step": [], "lb_loss": [], "z_loss": [], "tokens_per_expert": []}
    for step in steps:
        lb = rng.random(layers) + 1
        z = rng.random(layers) * 10
        tpe = rng.integers(0, 500, (layers, experts))
        log.record(step, lb, z, tpe)
        for key, value in zip(expected, (step, lb, z, tpe)):
            expected[key].append(value)
    return {k: np.asarray(v) for k, v in expected.items()}


def _dump(path, log, layers=3, experts=6):
    with DumpWriter(path, experts, 2, training_log=log) as w:
        for i in range(layers):
            w.add_layer(f"{i:02d}", index=i)
        w.append_sequence([0, 1], layers={f"{i:02d}": dict(topk_ids=[[0, 1], [2, 3]]) for i in range(layers)})


class TrainingLogTest(TempDirTestCase):
    def test_series_round_trip(self):
        rng = np.random.default_rng(3)
        log = TrainingLog()
        expected = _fill(log, rng, [0, 10, 20, 20, 35])
        path = self.path("t.h5")
        _dump(path, log)
        with h5py.File(path, "r") as f:
            g = f["training"]
            self.assertEqual(g["step"].shape, (5,))
            self.assertEqual(g["lb_loss"].shape, (5, 3))
            self.assertEqual(g["z_loss"].shape, (5, 3))
            self.assertEqual(g["tokens_per_expert"].shape, (5, 3, 6))
            self.assertTrue(np.issubdtype(g["tokens_per_expert"].dtype, np.integer))
            for key, value in expected.items():
                np.testing.assert_array_equal(g[key][()], value, err_msg=key)
        back = TrainingLog.read(path).arrays()
        for key, value in expected.items():
            np.testing.assert_array_equal(back[key], value, err_msg=key)

    def test_each_checkpoint_holds_the_series_so_far(self):
        rng = np.random.default_rng(4)
        log = TrainingLog(num_layers=3, num_experts=6)
        _fill(log, rng, range(0, 30, 10))
        _dump(self.path("a.h5"), log)
        _fill(log, rng, range(30, 50, 10))
        _dump(self.path("b.h5"), log)
        self.assertEqual(len(TrainingLog.read(self.path("a.h5"))), 3)
        self.assertEqual(list(TrainingLog.read(self.path("b.h5")).arrays()["step"]), [0, 10, 20, 30, 40])

    def test_record_router_outputs_follows_routing_md(self):
        rng = np.random.default_rng(5)
        t, e, k = 200, 8, 2
        z0 = rng.normal(size=(t, e)) * 2
        z1 = rng.normal(size=(t, e))
        z1[[3, 50]] = np.nan  # invalid tokens are left out of everything
        chosen0 = np.argsort(rng.random((t, e)), axis=1)[:, :k]
        log = TrainingLog()
        log.record_router_outputs(7, [dict(logits=z0, topk_ids=chosen0), dict(logits=z1)], top_k=k)
        a = log.arrays()
        c0 = routing.expert_counts(chosen0, e)
        ids1, _, valid = routing.choose(z1, k)
        c1 = routing.expert_counts(ids1[valid], e)
        np.testing.assert_array_equal(a["tokens_per_expert"][0], [c0, c1])
        self.assertEqual(c1.sum(), k * (t - 2))
        # lb_loss by the formula written out longhand.
        p0 = np.exp(z0) / np.exp(z0).sum(axis=1, keepdims=True)
        self.assertAlmostEqual(a["lb_loss"][0, 0], e * np.sum(c0 / t * p0.mean(axis=0)))
        ok = z1[valid]
        self.assertAlmostEqual(a["z_loss"][0, 1], np.mean(np.log(np.exp(ok).sum(axis=1)) ** 2))

    def test_balanced_router_gives_lb_loss_k(self):
        t, e, k = 64, 4, 2
        z = np.zeros((t, e))
        chosen = np.array([[i % e, (i + 1) % e] for i in range(t)])
        log = TrainingLog()
        log.record_router_outputs(0, [(z, chosen)])
        self.assertAlmostEqual(log.arrays()["lb_loss"][0, 0], k)

    def test_mismatches_are_refused(self):
        log = TrainingLog()
        log.record(0, [1, 1], [0, 0], np.zeros((2, 6), int))
        with self.assertRaises(DumpError):
            log.record(1, [1, 1], [0, 0], np.zeros((2, 5), int))
        with self.assertRaises(DumpError):
            log.record(-1, [1, 1], [0, 0], np.zeros((2, 6), int))
        with self.assertRaises(DumpError):
            log.record(2, [1, 1, 1], [0, 0], np.zeros((2, 6), int))
        path = self.path("mismatch.h5")
        with self.assertRaisesRegex(DumpError, "2 layers, the dump 3"):
            _dump(path, log)
        self.assertFalse(os.path.exists(path))


if __name__ == "__main__":
    unittest.main()
