"""SGLang expert distribution dumps -> routing dumps (moescope_recorder.importers.sglang).

Fixtures are torch.save files in SGLang's layout (sglang_fixtures.py). Expected
tokens, choices and counts come from the logical choices the fixture drew, not from
the physical ids the converter maps; where MOESCOPE_BIN is set, `moescope stats`
reads the written dump and must count the same.
"""

import contextlib
import io
import json
import os
import subprocess
import sys
import unittest

import h5py
import numpy as np
import torch

from moescope_recorder.importers import sglang

from .sglang_fixtures import Model, save_detail, save_stat, token_record
from .support import TempDirTestCase

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_converter(*args):
    env = dict(os.environ, PYTHONPATH=TOOLS)
    return subprocess.run([sys.executable, "-m", "moescope_recorder.importers.sglang", *args],
                          capture_output=True, text=True, env=env, timeout=300)


def moescope_stats(path):
    binary = os.environ.get("MOESCOPE_BIN")
    if not binary:
        return None
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([binary, "stats", path, "--json"], capture_output=True, text=True, env=env, timeout=120)
    if proc.returncode != 0:
        raise AssertionError(f"moescope stats {path} exited {proc.returncode}:\n{proc.stderr}")
    return json.loads(proc.stdout)


def text(values):
    return [v.decode() if isinstance(v, bytes) else v for v in values]


class PerTokenTest(TempDirTestCase):
    def setUp(self):
        super().setUp()
        self.rng = np.random.default_rng(13)
        self.model = Model(self.rng, layers=4, dense=(0, 2), experts=6, top_k=2)

    def make(self, partial_token=False):
        """Two data-parallel ranks: an extend pass of two requests and a decode pass each."""
        m, expect = self.model, []  # expect: (ids, label, logical [L, n, k]) per sequence
        files = []
        for rank in range(2):
            records = []
            lens = [3, 5] if rank == 0 else [4]
            ids = self.rng.integers(0, 1000, size=sum(lens))
            logical = m.choose(len(ids))
            if partial_token and rank == 0:
                logical[1, 4, 1] = -1  # token 4 has one valid slot at layer 1: left out
            records.append(token_record(m, 0, rank, ids, lens, logical))
            start = 0
            for length in lens:
                sl = slice(start, start + length)
                keep = np.ones(length, dtype=bool)
                if partial_token and rank == 0 and start <= 4 < start + length:
                    keep[4 - start] = False
                expect.append((ids[sl][keep], "extend", logical[:, sl][:, keep]))
                start += length
            dec_ids = self.rng.integers(0, 1000, size=3)
            dec_logical = m.choose(3)
            records.append(token_record(m, 1, rank, dec_ids, None, dec_logical))
            for t in range(3):
                expect.append((dec_ids[t : t + 1], "decode", dec_logical[:, t : t + 1]))
            path = self.path(f"expert_distribution_recorder_1700000000.0_{rank}.pt")
            save_detail(path, m, records)
            files.append(path)
        return files, expect

    def check_dump(self, out, expect):
        m = self.model
        with h5py.File(out, "r") as f:
            self.assertEqual(f.attrs["source"], "sglang")
            self.assertEqual(f.attrs["source_layout"], "per_token")
            self.assertEqual(int(f.attrs["num_experts"]), m.experts)
            self.assertEqual(int(f.attrs["top_k"]), m.top_k)
            np.testing.assert_array_equal(f["tokens/ids"][()], np.concatenate([e[0] for e in expect]))
            offsets = np.cumsum([0] + [len(e[0]) for e in expect])
            np.testing.assert_array_equal(f["tokens/sequence_offsets"][()], offsets)
            self.assertEqual(text(f["tokens/sequence_labels"][()]), [e[1] for e in expect])
            names = sorted(f["layers"], key=lambda n: int(f["layers"][n].attrs["index"]))
            self.assertEqual([int(f["layers"][n].attrs["index"]) for n in names], m.moe_layers)
            self.assertEqual(names, [f"{l:02d}" for l in m.moe_layers])
            for name, l in zip(names, m.moe_layers):
                want = np.concatenate([e[2][l] for e in expect])
                np.testing.assert_array_equal(f["layers"][name]["topk_ids"][()], want)
        return names

    def test_tokens_choices_and_counts(self):
        files, expect = self.make()
        out = self.path("sglang.h5")
        proc = run_converter(*files, "-o", out, "--num-experts", str(self.model.experts))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        names = self.check_dump(out, expect)
        stats = moescope_stats(out)
        if stats is not None:
            self.assertEqual(stats["top_k"], self.model.top_k)
            for layer, name, l in zip(stats["layers"], names, self.model.moe_layers):
                ids = np.concatenate([e[2][l] for e in expect]).ravel()
                self.assertEqual(layer["name"], name)
                self.assertEqual(layer["counts"], np.bincount(ids, minlength=self.model.experts).tolist())

    def test_partial_token_left_out_and_experts_inferred(self):
        files, expect = self.make(partial_token=True)
        out = self.path("partial.h5")
        proc = run_converter(*files, "-o", out)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("1 tokens have fewer than 2 valid expert slots", proc.stderr)
        self.assertIn("took 6", proc.stderr)  # E = 1 + the largest logical id in the map
        self.check_dump(out, expect)

    def test_tensor_parallel_ranks_imported_once(self):
        m = self.model
        ids = self.rng.integers(0, 50, size=5)
        logical = m.choose(5)
        record = token_record(m, 7, 0, ids, [5], logical)
        files = []
        for rank in range(2):
            path = self.path(f"rec_{rank}.pt")
            save_detail(path, m, [dict(record, rank=rank)])
            files.append(path)
        out = self.path("tp.h5")
        summary = sglang.convert(files, out, num_experts=m.experts)
        self.assertEqual(summary["tokens"], 5)
        with h5py.File(out, "r") as f:
            np.testing.assert_array_equal(f["tokens/ids"][()], ids)


class StatTest(TempDirTestCase):
    def setUp(self):
        super().setUp()
        self.rng = np.random.default_rng(7)

    def logical_count(self, passes, layers, experts, k, dense=(1,), empty=()):
        """[passes, L, E] counts of k distinct experts per token, with zero rows for dense layers."""
        counts = np.zeros((passes, layers, experts), dtype=np.int64)
        tokens = self.rng.integers(1, 9, size=passes)
        for p in range(passes):
            if p in empty:
                continue
            for l in range(layers):
                if l in dense:
                    continue
                choice = np.argsort(self.rng.random((tokens[p], experts)), axis=1)[:, :k]
                counts[p, l] = np.bincount(choice.ravel(), minlength=experts)
        tokens[list(empty)] = 0
        return counts, tokens

    def test_run_log_and_summed_counts(self):
        counts, tokens = self.logical_count(6, 3, 5, 2, dense=(1,), empty=(4, 5))
        tokens[0] = 1  # a pass of one token: the per-pass totals then tell k exactly
        counts[0] = 0
        counts[0, [0, 2], :2] = 1
        path = self.path("expert_distribution_recorder_1700000000.5.pt")
        save_stat(path, counts)
        out = self.path("stat.h5")
        proc = run_converter(path, "-o", out)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("2 of 6 passes counted nothing", proc.stderr)
        moe = [0, 2]
        with h5py.File(out, "r") as f:
            self.assertEqual(f.attrs["source_layout"], "stat")
            self.assertEqual(int(f.attrs["top_k"]), 2)
            self.assertNotIn("tokens", f)
            self.assertEqual(int(f.attrs["num_tokens"]), int(tokens.sum()))
            self.assertEqual(sorted(f["layers"]), ["00", "02"])
            g = f["training"]
            np.testing.assert_array_equal(g["step"][()], [0, 1, 2, 3])
            np.testing.assert_array_equal(g["tokens_per_expert"][()], counts[:4][:, moe])
            self.assertEqual(text(g["layer_names"][()]), ["00", "02"])
            for l in moe:
                np.testing.assert_array_equal(f[f"layers/{l:02d}/counts"][()], counts[:, l].sum(axis=0))
        stats = moescope_stats(out)
        if stats is not None:
            self.assertEqual(stats["tokens"], int(tokens.sum()))
            self.assertEqual([x["counts"] for x in stats["layers"]], [counts[:, l].sum(axis=0).tolist() for l in moe])

    def test_per_pass_records_summed_over_ranks(self):
        model = Model(self.rng, layers=3, dense=(2,), experts=4, top_k=1, replicas=1)
        files, expected = [], {}
        for rank in range(2):
            records = []
            for pass_id in (3, 4):
                logical = model.choose(4)
                rec = token_record(model, pass_id, rank, np.arange(4), [4], logical)
                del rec["topk_ids_of_layer"]  # per_pass records hold counts only
                records.append(rec)
                for l in (0, 1):
                    expected.setdefault(pass_id, np.zeros((2, 4), np.int64))[l] += np.bincount(
                        logical[l].ravel(), minlength=4)
            files.append(self.path(f"pp_{rank}.pt"))
            save_detail(files[-1], model, records)
        out = self.path("pp.h5")
        summary = sglang.convert(files, out, top_k=1)
        self.assertEqual(summary["passes"], 2)
        with h5py.File(out, "r") as f:
            self.assertEqual(f.attrs["source_layout"], "per_pass")
            np.testing.assert_array_equal(f["training/step"][()], [3, 4])
            np.testing.assert_array_equal(f["training/tokens_per_expert"][()], np.stack([expected[3], expected[4]]))
            self.assertEqual(int(f.attrs["num_tokens"]), 16)


def run_in_process(*args):
    """The converter's main() here (no new interpreter to start): (exit code, stderr)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = sglang.main(list(args))
    return subprocess.CompletedProcess(args, code, "", err.getvalue())


class BadInputTest(TempDirTestCase):
    def refused(self, obj_or_bytes, *needles, extra=()):
        path = self.path("bad.pt")
        if isinstance(obj_or_bytes, bytes):
            with open(path, "wb") as fh:
                fh.write(obj_or_bytes)
        else:
            torch.save(obj_or_bytes, path)
        out = self.path("out.h5")
        proc = run_in_process(path, *extra, "-o", out)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn(path, proc.stderr)
        for needle in needles:
            self.assertIn(needle, proc.stderr)
        self.assertEqual(self.leftovers(), ["bad.pt"])  # no output, no temporary file

    def test_not_a_dict(self):
        self.refused([1, 2, 3], "expected a dict with `logical_count`", "a list of 3 items")

    def test_dict_of_other_keys(self):
        self.refused({"weights": torch.zeros(3)}, "expected a dict", "keys [weights]")

    def test_not_a_pickle(self):
        self.refused(b"this is not a torch file\n" * 4, "not a torch.save file")

    def test_logical_count_of_wrong_rank(self):
        self.refused({"logical_count": torch.zeros(3, 4)}, "logical_count", "3 dimensions", "[3, 4]")

    def physical(self, value):
        model = Model(np.random.default_rng(1), layers=2, dense=(), experts=4, top_k=2)
        rec = token_record(model, 0, 0, [1, 2, 3], [3], model.choose(3))
        rec["topk_ids_of_layer"][1, 2, 0] = value
        return {"records": [rec], "last_physical_to_logical_map": model.physical_to_logical}

    def test_expert_id_too_large(self):
        self.refused(self.physical(9), "record 0", "layer 1, token 2", "physical expert id 9 is outside [0, 6)")

    def test_negative_expert_id(self):
        self.refused(self.physical(-3), "record 0", "physical expert id -3", "not the padding -1")

    def test_tokens_disagree(self):
        obj = self.physical(0)
        obj["records"][0]["input_ids"] = [1, 2]
        self.refused(obj, "record 0", "topk_ids_of_layer is [2, 3, 8]")

    def test_mixed_modes(self):
        a, b = self.path("a.pt"), self.path("b.pt")
        torch.save({"logical_count": torch.ones(1, 1, 2, dtype=torch.int32)}, a)
        torch.save(self.physical(0), b)
        proc = run_converter(a, b, "-o", self.path("out.h5"))
        self.assertEqual(proc.returncode, 1)
        self.assertIn("different recorder modes", proc.stderr)
        self.assertEqual(self.leftovers(), ["a.pt", "b.pt"])


@unittest.skipUnless(os.environ.get("MOESCOPE_BIN"), "MOESCOPE_BIN is not set")
class MoescopeImportTest(TempDirTestCase):
    """`moescope import` on a .pt file runs the converter with the Python it is told to use."""

    def moescope_import(self, source, out, python):
        env = dict(os.environ, MOESCOPE_PYTHON=python, MOESCOPE_RECORDER_PATH=TOOLS, QT_QPA_PLATFORM="offscreen")
        return subprocess.run([os.environ["MOESCOPE_BIN"], "import", source, "-o", out], capture_output=True,
                              text=True, env=env, timeout=300)

    def test_pt_file_and_folder(self):
        counts = np.zeros((2, 2, 4), dtype=np.int64)
        counts[:, 0, :2] = 1  # one token per pass choosing experts 0 and 1
        counts[:, 1, 1:3] = 1
        path = self.path("expert_distribution_recorder_1.pt")
        save_stat(path, counts)
        out = self.path("out.h5")
        proc = self.moescope_import(path, out, sys.executable)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("top_k is not recorded", proc.stderr)  # the converter's warning, passed on
        with h5py.File(out, "r") as f:
            self.assertEqual(f.attrs["source"], "sglang")
            np.testing.assert_array_equal(f["layers/01/counts"][()], counts[:, 1].sum(axis=0))
        os.remove(out)
        proc = self.moescope_import(self.dir, out, sys.executable)  # a folder of .pt files
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertTrue(os.path.exists(out))

    def test_python_without_torch(self):
        # A Python on whose path `import torch` fails, as where PyTorch is not installed.
        shadow = self.path("notorch")
        os.mkdir(shadow)
        with open(os.path.join(shadow, "torch.py"), "w") as fh:
            fh.write("raise ImportError(\"No module named 'torch'\")\n")
        wrapper = self.path("python-without-torch")
        with open(wrapper, "w") as fh:
            fh.write(f"#!/bin/sh\nPYTHONPATH={shadow}:$PYTHONPATH exec {sys.executable} \"$@\"\n")
        os.chmod(wrapper, 0o755)
        path = self.path("rec.pt")
        save_stat(path, np.ones((1, 1, 2), dtype=np.int64))
        proc = self.moescope_import(path, self.path("out.h5"), wrapper)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn(path, proc.stderr)
        self.assertIn("PyTorch is needed", proc.stderr)
        self.assertFalse(os.path.exists(self.path("out.h5")))

    def test_no_python(self):
        path = self.path("rec.pt")
        save_stat(path, np.ones((1, 1, 2), dtype=np.int64))
        proc = self.moescope_import(path, self.path("out.h5"), self.path("no-such-python"))
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("could not be started", proc.stderr)
        self.assertIn("MOESCOPE_PYTHON", proc.stderr)


if __name__ == "__main__":
    unittest.main()
