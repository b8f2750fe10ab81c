"""DumpWriter: what it writes reads back with h5py exactly as dump-format.md says."""

import os
import unittest

import h5py
import numpy as np

from moescope_recorder import DumpError, DumpWriter
from moescope_recorder.routing import choose

from .support import TempDirTestCase, distinct_choices, grid_logits

VOCAB = ["<unk>", "def", "self", "(", ")", ":", "\n", "the", "of", "Größe", "für", "naïve", "日本"]


def _strings(ds):
    return [v.decode("utf-8") if isinstance(v, bytes) else v for v in ds[()]]


class RoundTripTest(TempDirTestCase):
    def build(self, path, logits_dtype="float16"):
        """Writes three labelled sequences into two layers; returns what was written."""
        rng = np.random.default_rng(7)
        e, k = 8, 2
        lengths = [5, 0, 11, 7]  # an empty sequence is legal and must keep its offset
        labels = ["python", "english", "german", "python"]
        seqs, z0, i0, w0, z1 = [], [], [], [], []
        with DumpWriter(
            path,
            num_experts=e,
            top_k=k,
            model="unit-test model",
            checkpoint="ckpt-3",
            checkpoint_step=300,
            capacity_factor=1.5,
            vocab=VOCAB,
            logits_dtype=logits_dtype,
        ) as w:
            w.add_layer("blocks.1.router", index=1)
            w.add_layer("blocks.0.router", index=0)
            w.set_expert_bias("blocks.1.router", np.linspace(-1, 1, e))
            for n, label in zip(lengths, labels):
                ids = rng.integers(0, len(VOCAB), n)
                logits0 = rng.normal(size=(n, e)) * 3
                chosen = distinct_choices(rng, n, e, k)
                weights = rng.random((n, k))
                logits1 = grid_logits(rng, n, e)
                w.append_sequence(
                    ids,
                    label,
                    layers={
                        "blocks.0.router": dict(logits=logits0, topk_ids=chosen, topk_weights=weights),
                        "blocks.1.router": dict(logits=logits1),
                    },
                )
                seqs.append(ids)
                z0.append(logits0)
                i0.append(chosen)
                w0.append(weights)
                z1.append(logits1)
            self.assertFalse(os.path.exists(path), "the final name must not exist before close")
        cat = np.concatenate
        return dict(
            ids=cat(seqs),
            offsets=np.cumsum([0] + lengths),
            labels=labels,
            z0=cat(z0),
            i0=cat(i0),
            w0=cat(w0),
            z1=cat(z1),
            bias=np.linspace(-1, 1, e),
        )

    def test_round_trip(self):
        path = self.path("dump.h5")
        ref = self.build(path)
        self.assertEqual(self.leftovers(), ["dump.h5"])
        with h5py.File(path, "r") as f:
            a = f.attrs
            self.assertEqual(a["format"], "moe-routing")
            self.assertEqual(a["format_version"], 1)
            self.assertEqual(a["num_experts"], 8)
            self.assertEqual(a["top_k"], 2)
            self.assertEqual(a["scoring"], "softmax")
            self.assertEqual(a["normalize_topk"], 1)
            self.assertEqual(a["model"], "unit-test model")
            self.assertEqual(a["checkpoint"], "ckpt-3")
            self.assertEqual(a["checkpoint_step"], 300)
            self.assertAlmostEqual(a["capacity_factor"], 1.5)

            t = f["tokens"]
            np.testing.assert_array_equal(t["ids"][()], ref["ids"])
            np.testing.assert_array_equal(t["sequence_offsets"][()], ref["offsets"])
            self.assertEqual(_strings(t["sequence_labels"]), ref["labels"])
            self.assertEqual(_strings(t["vocab"]), VOCAB)
            self.assertEqual(h5py.check_string_dtype(t["vocab"].dtype).encoding, "utf-8")

            l0, l1 = f["layers/blocks.0.router"], f["layers/blocks.1.router"]
            self.assertEqual((l0.attrs["index"], l1.attrs["index"]), (0, 1))
            self.assertEqual(l0["logits"].dtype, np.float16)
            np.testing.assert_array_equal(l0["logits"][()], ref["z0"].astype(np.float16))
            np.testing.assert_array_equal(l0["topk_ids"][()], ref["i0"])
            np.testing.assert_array_equal(l0["topk_weights"][()], ref["w0"].astype(np.float32))
            self.assertEqual(sorted(l1), ["expert_bias", "logits"])
            np.testing.assert_array_equal(l1["logits"][()], ref["z1"])  # grid values are exact
            np.testing.assert_allclose(l1["expert_bias"][()], ref["bias"], rtol=1e-6)

    def test_storage_is_chunked_compressed_and_readable_by_hdf5_1_10(self):
        path = self.path("dump.h5")
        self.build(path)
        with h5py.File(path, "r") as f:
            for name in ("tokens/ids", "layers/blocks.0.router/logits", "layers/blocks.0.router/topk_ids"):
                ds = f[name]
                self.assertIsNotNone(ds.chunks, name)
                self.assertEqual(ds.compression, "gzip", name)
                self.assertTrue(ds.shuffle, name)
                self.assertIsNone(ds.maxshape[0], name)
            # Superblock version 0 is what libver 'earliest' writes; HDF5 1.10 reads it.
            self.assertEqual(f.id.get_create_plist().get_version()[0], 0)

    def test_float32_logits(self):
        path = self.path("dump32.h5")
        ref = self.build(path, logits_dtype="float32")
        with h5py.File(path, "r") as f:
            ds = f["layers/blocks.0.router/logits"]
            self.assertEqual(ds.dtype, np.float32)
            np.testing.assert_array_equal(ds[()], ref["z0"].astype(np.float32))

    def test_many_small_appends_across_chunk_boundaries(self):
        # Rows are buffered and written a chunk at a time; nothing may be lost or
        # reordered at the chunk boundaries or in the final partial chunk.
        rng = np.random.default_rng(1)
        e, k, n_seq, n = 4, 1, 1500, 13
        z = rng.normal(size=(n_seq * n, e)).astype(np.float32)
        ids = rng.integers(0, 1000, n_seq * n)
        path = self.path("long.h5")
        with DumpWriter(path, e, k, logits_dtype="float32") as w:
            for s in range(n_seq):
                rows = slice(s * n, (s + 1) * n)
                chosen, weights, _ = choose(z[rows], k)
                w.append_tokens(ids[rows])
                w.append_layer("only", logits=z[rows], topk_ids=chosen, topk_weights=weights)
        with h5py.File(path, "r") as f:
            np.testing.assert_array_equal(f["tokens/ids"][()], ids)
            np.testing.assert_array_equal(f["layers/only/logits"][()], z)
            self.assertLess(f["layers/only/logits"].chunks[0], n_seq * n)
            self.assertEqual(len(f["tokens/sequence_offsets"]), n_seq + 1)
            self.assertNotIn("sequence_labels", f["tokens"])
            self.assertNotIn("vocab", f["tokens"])

    def test_topk_only_layer_and_layer_order_by_appearance(self):
        path = self.path("ids-only.h5")
        with DumpWriter(path, 4, 2) as w:
            w.append_sequence([1, 2, 3], layers={"z": dict(topk_ids=[[0, 1], [2, 3], [3, 0]])})
            w.append_sequence([4], layers={"z": dict(topk_ids=[[1, 2]])})
        with h5py.File(path, "r") as f:
            self.assertEqual(sorted(f["layers/z"]), ["counts", "topk_ids"])
            self.assertEqual(f["layers/z"].attrs["index"], 0)
            np.testing.assert_array_equal(f["layers/z/topk_ids"][()], [[0, 1], [2, 3], [3, 0], [1, 2]])
            # The summary beside the choices: tokens per expert over every append.
            np.testing.assert_array_equal(f["layers/z/counts"][()], [2, 2, 2, 2])

    def test_counts_summarise_the_choices_across_chunks(self):
        rng = np.random.default_rng(3)
        e, k = 16, 4
        ids = np.argsort(rng.random((5000, e)), axis=1)[:, :k]  # k distinct experts per token
        path = self.path("counts.h5")
        with DumpWriter(path, e, k) as w:
            for s in range(0, 5000, 700):
                w.append_tokens(np.arange(s, min(s + 700, 5000)) % 50)
                w.append_layer("a", topk_ids=ids[s:s + 700])
        with h5py.File(path, "r") as f:
            expected = [int((ids == x).sum()) for x in range(e)]
            np.testing.assert_array_equal(f["layers/a/counts"][()], expected)
            self.assertEqual(f["layers/a/counts"].dtype, np.int64)


class AtomicFinishTest(TempDirTestCase):
    def test_exception_in_with_block_leaves_no_file(self):
        path = self.path("never.h5")
        with self.assertRaises(RuntimeError):
            with DumpWriter(path, 4, 1) as w:
                w.append_sequence([1, 2], layers={"l": dict(logits=np.zeros((2, 4)))})
                self.assertEqual(len(self.leftovers()), 1)  # the temporary file
                raise RuntimeError("the model crashed")
        self.assertFalse(os.path.exists(path))
        self.assertEqual(self.leftovers(), [])

    def test_earlier_file_survives_a_failed_rewrite(self):
        path = self.path("dump.h5")
        with open(path, "wb") as f:
            f.write(b"previous dump")
        with self.assertRaises(KeyboardInterrupt):
            with DumpWriter(path, 4, 1) as w:
                w.append_sequence([1], layers={"l": dict(logits=np.zeros((1, 4)))})
                raise KeyboardInterrupt
        with open(path, "rb") as f:
            self.assertEqual(f.read(), b"previous dump")
        self.assertEqual(self.leftovers(), ["dump.h5"])

    def test_invalid_dump_at_close_is_not_published(self):
        path = self.path("short.h5")
        w = DumpWriter(path, 4, 1)
        w.append_tokens([1, 2, 3])
        w.append_layer("l", logits=np.zeros((2, 4)))  # one row short
        with self.assertRaisesRegex(DumpError, "2 rows for 3 tokens"):
            w.close()
        self.assertEqual(self.leftovers(), [])

    def test_dump_without_layers_is_refused(self):
        path = self.path("empty.h5")
        with self.assertRaisesRegex(DumpError, "at least one layer"):
            with DumpWriter(path, 4, 1) as w:
                w.append_tokens([1])
        self.assertEqual(self.leftovers(), [])

    def test_abort_and_double_close(self):
        w = DumpWriter(self.path("a.h5"), 4, 1)
        w.abort()
        w.abort()
        self.assertEqual(self.leftovers(), [])
        w = DumpWriter(self.path("b.h5"), 4, 1)
        w.append_sequence([0], layers={"l": dict(topk_ids=[[3]])})
        w.close()
        w.close()
        self.assertEqual(self.leftovers(), ["b.h5"])
        with self.assertRaises(DumpError):
            w.append_tokens([1])

    def test_forgotten_writer_cleans_up(self):
        w = DumpWriter(self.path("lost.h5"), 4, 1)
        w.append_sequence([0], layers={"l": dict(topk_ids=[[3]])})
        del w
        self.assertEqual(self.leftovers(), [])


class ValidationTest(TempDirTestCase):
    def writer(self, **kw):
        w = DumpWriter(self.path("v.h5"), 4, 2, **kw)
        self.addCleanup(w.abort)
        return w

    def test_expert_id_out_of_range(self):
        w = self.writer()
        w.append_tokens([0])
        with self.assertRaisesRegex(DumpError, r"expert id outside \[0, 4\)"):
            w.append_layer("l", topk_ids=[[0, 4]])

    def test_repeated_expert(self):
        w = self.writer()
        w.append_tokens([0])
        with self.assertRaisesRegex(DumpError, "same expert twice"):
            w.append_layer("l", topk_ids=[[1, 1]])

    def test_token_outside_vocab(self):
        w = self.writer(vocab=["a", "b"])
        with self.assertRaisesRegex(DumpError, "outside the vocabulary"):
            w.append_tokens([0, 2])

    def test_shapes(self):
        w = self.writer()
        w.append_tokens([0, 1])
        with self.assertRaisesRegex(DumpError, r"logits must be \[n, 4\]"):
            w.append_layer("l", logits=np.zeros((2, 3)))
        with self.assertRaisesRegex(DumpError, "rows, expected"):
            w.append_layer("l", logits=np.zeros((2, 4)), topk_ids=[[0, 1]])
        with self.assertRaisesRegex(DumpError, "would exceed"):
            w.append_layer("l", logits=np.zeros((3, 4)))
        with self.assertRaisesRegex(DumpError, "need topk_ids"):
            w.append_layer("l", logits=np.zeros((2, 4)), topk_weights=np.zeros((2, 2)))

    def test_fields_fixed_per_layer(self):
        w = self.writer()
        w.append_sequence([0], layers={"l": dict(logits=np.zeros((1, 4)))})
        with self.assertRaisesRegex(DumpError, "same fields"):
            w.append_sequence([0], layers={"l": dict(topk_ids=[[0, 1]])})

    def test_float16_overflow_is_refused(self):
        w = self.writer()
        w.append_tokens([0])
        with self.assertRaisesRegex(DumpError, "float32"):
            w.append_layer("l", logits=[[1e6, 0, 0, 0]])

    def test_labels_all_or_none(self):
        path = self.path("labels.h5")
        with self.assertRaisesRegex(DumpError, "every sequence has a label"):
            with DumpWriter(path, 4, 1) as w:
                w.append_sequence([0], "python", layers={"l": dict(topk_ids=[[0]])})
                w.append_sequence([0], None, layers={"l": dict(topk_ids=[[0]])})
        self.assertFalse(os.path.exists(path))

    def test_duplicate_index(self):
        w = self.writer()
        w.add_layer("a", index=3)
        with self.assertRaisesRegex(DumpError, "already used"):
            w.add_layer("b", index=3)

    def test_bad_header(self):
        with self.assertRaises(DumpError):
            DumpWriter(self.path("x.h5"), 4, 5)
        with self.assertRaises(DumpError):
            DumpWriter(self.path("x.h5"), 4, 1, scoring="relu")
        self.assertEqual(self.leftovers(), [])


class LoadOnlyTest(TempDirTestCase):
    def test_counts_without_tokens(self):
        path = self.path("load.h5")
        counts = np.array([3, 0, 5, 2])
        with DumpWriter(path, 4, 2) as w:
            w.add_layer("07", index=7)
            w.set_counts("07", counts, num_tokens=5)
            w.set_counts("09", counts[::-1].astype(float))
        with h5py.File(path, "r") as f:
            self.assertNotIn("tokens", f)
            self.assertEqual(int(f.attrs["num_tokens"]), 5)
            np.testing.assert_array_equal(f["layers/07/counts"][()], counts)
            self.assertEqual(f["layers/07/counts"].dtype.kind, "i")
            np.testing.assert_array_equal(f["layers/09/counts"][()], counts[::-1])
            self.assertEqual(int(f["layers/09"].attrs["index"]), 8)

    def test_counts_beside_tokens_or_without_num_tokens_are_refused(self):
        path = self.path("mixed.h5")
        with self.assertRaisesRegex(DumpError, "load-only dump holds counts in every layer"):
            with DumpWriter(path, 4, 1) as w:
                w.append_sequence([1, 2], layers={"00": dict(topk_ids=[[0], [1]])})
                w.set_counts("01", [1, 1, 0, 0], num_tokens=2)
        with self.assertRaisesRegex(DumpError, "needs num_tokens"):
            with DumpWriter(path, 4, 1) as w:
                w.set_counts("00", [1, 1, 0, 0])
        with self.assertRaisesRegex(DumpError, "non-negative"):
            with DumpWriter(path, 4, 1) as w:
                w.set_counts("00", [1, -1, 0, 0], num_tokens=1)
        self.assertEqual(self.leftovers(), [])


if __name__ == "__main__":
    unittest.main()
