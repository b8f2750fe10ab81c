"""RunLog: a live run log written in SWMR mode, step by step, safe to kill."""

import math
import os
import signal
import subprocess
import sys
import time
import unittest

import json

import h5py
import numpy as np

from moescope_recorder import DumpError, RunLog

from .support import TempDirTestCase

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def plain_step(logits, k):
    """Counts, lb loss and z-loss of one layer, written out by hand (routing.md)."""
    t, e = len(logits), len(logits[0])
    counts = [0] * e
    p_sum = [0.0] * e
    z = 0.0
    for row in logits:
        order = sorted(range(e), key=lambda j: (-row[j], j))  # ties to the lower id
        for j in order[:k]:
            counts[j] += 1
        mx = max(row)
        ex = [math.exp(v - mx) for v in row]
        s = sum(ex)
        for j in range(e):
            p_sum[j] += ex[j] / s
        z += (mx + math.log(s)) ** 2
    lb = e * sum(counts[j] / t * p_sum[j] / t for j in range(e))
    return counts, lb, z / t


class RunLogTest(TempDirTestCase):
    def read(self, path):
        with h5py.File(path, "r", swmr=True) as f:
            g = f["training"]
            return {k: g[k][()] for k in g}, dict(f.attrs)

    def test_logits_give_counts_losses_and_max_vio(self):
        rng = np.random.default_rng(5)
        path = self.path("run.h5")
        layers, experts, k = 2, 6, 2
        expected = []
        with RunLog(path, layers, experts, top_k=k, expert_bias=False, layer_names=["a", "b"]) as log:
            for step in (10, 20, 30):
                z = [np.round(rng.normal(size=(40, experts)) * 4) / 4 for _ in range(layers)]
                log.record(step, logits=z)
                expected.append([plain_step(zl.tolist(), k) for zl in z])
        d, attrs = self.read(path)
        self.assertEqual(attrs["format"], "moe-routing")
        self.assertEqual(int(attrs["top_k"]), k)
        self.assertEqual(list(d["step"]), [10, 20, 30])
        self.assertEqual([n.decode() for n in d["layer_names"]], ["a", "b"])
        for i, per_layer in enumerate(expected):
            for l, (counts, lb, z) in enumerate(per_layer):
                self.assertEqual(list(d["tokens_per_expert"][i, l]), counts)
                self.assertAlmostEqual(float(d["lb_loss"][i, l]), lb, places=4)
                self.assertAlmostEqual(float(d["z_loss"][i, l]) / z, 1.0, places=5)
                m = sum(counts) / experts
                self.assertAlmostEqual(float(d["max_vio"][i, l]), (max(counts) - m) / m, places=5)

    def test_ready_made_counts_bias_and_flush_every(self):
        path = self.path("run.h5")
        log = RunLog(path, 1, 4, flush_every=3, top_k=1, expert_bias=True)
        for step in range(1, 6):
            log.record(step, counts=[[step, 0, 1, 2]], lb_loss=[1.5], z_loss=[0.25], expert_bias=[[0.1] * 4])
        # Five steps recorded, three flushed so far: a reader sees those three.
        d, _ = self.read(path)
        self.assertEqual(list(d["step"]), [1, 2, 3])
        log.close()
        d, _ = self.read(path)
        self.assertEqual(list(d["step"]), [1, 2, 3, 4, 5])
        self.assertEqual(list(d["tokens_per_expert"][4, 0]), [5, 0, 1, 2])
        self.assertAlmostEqual(float(d["expert_bias"][2, 0, 3]), 0.1, places=6)
        self.assertEqual(float(d["lb_loss"][0, 0]), 1.5)

    def test_top_k_taken_from_the_first_ids(self):
        path = self.path("run.h5")
        with RunLog(path, 1, 4) as log:
            self.assertFalse(os.path.exists(path))  # created by the first record
            log.record(0, topk_ids=[np.array([[0, 1, 2], [1, 2, 3]])])
        d, attrs = self.read(path)
        self.assertEqual(int(attrs["top_k"]), 3)
        self.assertEqual(list(d["tokens_per_expert"][0, 0]), [1, 2, 2, 1])
        self.assertTrue(np.isnan(d["lb_loss"][0, 0]))

    def test_bad_input_is_refused(self):
        log = RunLog(self.path("run.h5"), 2, 4, top_k=2, expert_bias=False)
        with self.assertRaises(DumpError):
            log.record(1, counts=[[1, 2, 3, 4]])  # one layer of two
        log.record(5, counts=np.ones((2, 4)))
        with self.assertRaises(DumpError):
            log.record(4, counts=np.ones((2, 4)))  # steps go forward
        with self.assertRaises(DumpError):
            log.record(6, topk_ids=[np.array([[0, 9]]), np.array([[0, 1]])])  # id 9 of 4 experts
        log.close()

    def test_a_new_run_replaces_the_file_with_a_new_one(self):
        path = self.path("run.h5")
        with RunLog(path, 1, 2, top_k=1, expert_bias=False) as log:
            log.record(1, counts=[[1, 1]])
        first = os.stat(path).st_ino
        reader = h5py.File(path, "r", swmr=True)  # a reader still following the old run
        with RunLog(path, 1, 2, top_k=1, expert_bias=False) as log:
            log.record(7, counts=[[2, 0]])
        self.assertEqual(list(reader["training/step"][()]), [1])
        reader.close()
        self.assertNotEqual(os.stat(path).st_ino, first)
        self.assertEqual(list(self.read(path)[0]["step"]), [7])

    def test_a_killed_writer_leaves_every_flushed_step(self):
        path = self.path("run.h5")
        script = (
            "import sys, numpy as np\n"
            f"sys.path.insert(0, {TOOLS!r})\n"
            "from moescope_recorder import RunLog\n"
            f"log = RunLog({path!r}, 3, 16, top_k=2, expert_bias=False)\n"
            "s = 0\n"
            "while True:\n"
            "    s += 1\n"
            "    log.record(s, counts=np.full((3, 16), s) + np.arange(16), lb_loss=[s] * 3, z_loss=[0] * 3)\n"
            "    print(s, flush=True)\n"
        )
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        try:
            seen = 0
            deadline = time.time() + 60
            while seen < 40 and time.time() < deadline:
                seen = int(proc.stdout.readline() or 0)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            proc.stdout.close()
        self.assertGreaterEqual(seen, 40)
        with h5py.File(path, "r", swmr=True) as f:
            g = f["training"]
            n = g["step"].shape[0]
            self.assertGreaterEqual(n, seen)  # everything it said it had recorded
            steps = g["step"][:n]
            self.assertEqual(list(steps), list(range(1, n + 1)))
            tpe = g["tokens_per_expert"][:n]
            self.assertTrue(np.array_equal(tpe[:, 1, :], steps[:, None] + np.arange(16)))
            self.assertTrue(np.array_equal(g["lb_loss"][:n, 2], steps))

    @unittest.skipUnless(os.environ.get("MOESCOPE_BIN"), "MOESCOPE_BIN is not set: moescope watch not checked")
    def test_moescope_watch_reads_what_the_recorder_wrote(self):
        # Two layers of eight experts; from step 4 layer 1 sends every token to expert 0
        # (MaxVio 3, over the limit of 2; no expert cold).
        path = self.path("run.h5")
        rng = np.random.default_rng(11)
        written = []
        with RunLog(path, 2, 8, top_k=2, expert_bias=False, layer_names=["attn.0", "attn.1"]) as log:
            for step in range(1, 9):
                ids = [np.argsort(rng.random((300, 8)), axis=1)[:, :2] for _ in range(2)]
                if step >= 4:
                    ids[1][:, 0] = 0
                    ids[1][:, 1] = 1 + rng.integers(0, 7, 300)
                log.record(step * 10, topk_ids=ids)
                written.append([np.bincount(i.reshape(-1), minlength=8) for i in ids])
        proc = subprocess.run([os.environ["MOESCOPE_BIN"], "watch", path, "--json"], capture_output=True, text=True,
                              timeout=120)
        self.assertEqual(proc.returncode, 3, proc.stderr)
        lines = [json.loads(line) for line in proc.stdout.splitlines()]
        # Steps 10..60 (layer attn.1 collapses at 40, 50, 60), then the alert.
        self.assertEqual([x["step"] for x in lines[:-1]], [10, 20, 30, 40, 50, 60])
        self.assertEqual(lines[-1], {"alert": {"layer": "attn.1", "since_step": 40, "condition": "max_vio"}})
        for line, counts in zip(lines[:-1], written):
            c = counts[1] if line["worst_layer"] == "attn.1" else counts[0]
            m = c.sum() / 8
            self.assertAlmostEqual(line["max_vio"], (c.max() - m) / m, places=9)
            self.assertEqual(line["cold"], int((c < 0.1 * m).sum()))


if __name__ == "__main__":
    unittest.main()
