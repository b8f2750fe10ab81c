"""record_hf_router_logits on the outputs that break naive recorders.

Each fake model returns, under `router_logits`, what a real one does in that case:
probabilities instead of logits, gpt-oss router scores (zeros outside the top-k),
only the sparse layers of a Qwen-MoE or DeepSeek config, or rows for padding tokens.
Expected choices come from the logits the fake model drew, by a plain stable sort
written here.
"""

import types
import unittest

import h5py
import numpy as np

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None

from moescope_recorder import DumpWriter

from .support import TempDirTestCase, grid_logits

E, K = 6, 2


def top_k(z, k=K):
    """Best k per row, ties to the lower id (routing.md), by a stable sort."""
    return np.argsort(-z, axis=1, kind="stable")[:, :k]


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class FakeModel:
    """Returns the given per-layer outputs as router_logits, shaped [batch*seq, E]."""

    def __init__(self, outputs, **config):
        self.outputs = outputs
        self.config = types.SimpleNamespace(num_experts_per_tok=K, norm_topk_prob=True, **config)

    def __call__(self, input_ids=None, attention_mask=None, output_router_logits=False):
        rl = tuple(None if o is None else torch.from_numpy(np.asarray(o, dtype=np.float32)) for o in self.outputs)
        return types.SimpleNamespace(logits=None, router_logits=rl if output_router_logits else None)


@unittest.skipIf(torch is None, "torch is not installed")
class HfCasesTest(TempDirTestCase):
    def setUp(self):
        super().setUp()
        self.rng = np.random.default_rng(5)
        self.ids = torch.from_numpy(self.rng.integers(0, 100, size=(2, 5)))

    def record(self, model, mask=None, **kw):
        from moescope_recorder import record_hf_router_logits

        path = self.path("hf.h5")
        with DumpWriter(path, E, K) as w:
            got = record_hf_router_logits(model, self.ids, writer=w, attention_mask=mask, **kw)
        return path, got

    def test_probabilities_are_stored_as_log_probabilities(self):
        z = [grid_logits(self.rng, 10, E) for _ in range(2)]
        model = FakeModel([softmax(x) for x in z])
        with self.assertWarnsRegex(UserWarning, r"layers \['00', '01'\] hold probabilities"):
            path, _ = self.record(model)
        with h5py.File(path, "r") as f:
            for i, x in enumerate(z):
                g = f[f"layers/{i:02d}"]
                stored = g["logits"][()].astype(np.float64)
                np.testing.assert_allclose(softmax(stored), softmax(x), atol=2e-3)
                np.testing.assert_array_equal(g["topk_ids"][()], top_k(x))
                p = np.take_along_axis(softmax(x), top_k(x), axis=1)
                np.testing.assert_allclose(g["topk_weights"][()], p / p.sum(axis=1, keepdims=True), atol=1e-3)

    def test_gpt_oss_scores_are_choices_and_weights(self):
        z = self.rng.normal(size=(10, E))
        chosen = top_k(z)
        gates = softmax(np.take_along_axis(z, chosen, axis=1))
        scores = np.zeros_like(z)
        np.put_along_axis(scores, chosen, gates, axis=1)
        with self.assertWarnsRegex(UserWarning, "router scores"):
            path, got = self.record(FakeModel([scores]))
        self.assertNotIn("logits", got["00"])
        with h5py.File(path, "r") as f:
            g = f["layers/00"]
            self.assertNotIn("logits", g)
            np.testing.assert_array_equal(g["topk_ids"][()], chosen)
            np.testing.assert_allclose(g["topk_weights"][()], gates, rtol=1e-6)

    def test_real_logits_are_left_alone(self):
        z = grid_logits(self.rng, 10, E)
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no warning for ordinary logits
            path, _ = self.record(FakeModel([z]))
        with h5py.File(path, "r") as f:
            np.testing.assert_array_equal(f["layers/00/logits"][()], z.astype(np.float16))
            np.testing.assert_array_equal(f["layers/00/topk_ids"][()], top_k(z))

    def test_qwen_sparse_layers_named_by_the_config_rule(self):
        z = [grid_logits(self.rng, 10, E) for _ in range(2)]
        # 6 layers, every 2nd sparse (1, 3, 5), but layer 3 forced dense: the model returns 2 entries.
        model = FakeModel(z, num_hidden_layers=6, decoder_sparse_step=2, mlp_only_layers=[3], num_experts=E)
        path, got = self.record(model)
        self.assertEqual(sorted(got), ["01", "05"])
        with h5py.File(path, "r") as f:
            self.assertEqual({n: int(g.attrs["index"]) for n, g in f["layers"].items()}, {"01": 1, "05": 5})
            np.testing.assert_array_equal(f["layers/05/topk_ids"][()], top_k(z[1]))

    def test_deepseek_dense_prefix(self):
        z = [grid_logits(self.rng, 10, E) for _ in range(3)]
        model = FakeModel(z, num_hidden_layers=4, first_k_dense_replace=1, moe_layer_freq=1)
        _, got = self.record(model)
        self.assertEqual(sorted(got), ["01", "02", "03"])

    def test_rule_that_does_not_match_the_output_falls_back_to_positions(self):
        z = [grid_logits(self.rng, 10, E) for _ in range(2)]
        model = FakeModel(z, num_hidden_layers=6, decoder_sparse_step=2)
        with self.assertWarnsRegex(UserWarning, "gives 3 MoE layers, the model returned 2"):
            _, got = self.record(model)
        self.assertEqual(sorted(got), ["00", "01"])

    def test_padding_left_out_even_when_its_rows_are_garbage(self):
        mask = np.ones((2, 5), dtype=np.int64)
        mask[0, :2] = 0  # left padding, as for generation
        mask[1, 4] = 0
        keep = mask.reshape(-1).astype(bool)
        z = grid_logits(self.rng, 10, E)
        probs = softmax(z)
        probs[~keep] = -7.0  # padding rows: not probabilities, not even finite-sum ones
        z_nan = z.copy()
        z_nan[~keep] = np.nan
        with self.assertWarnsRegex(UserWarning, "hold probabilities"):
            path, _ = self.record(FakeModel([probs, z_nan]), mask=torch.from_numpy(mask))
        with h5py.File(path, "r") as f:
            np.testing.assert_array_equal(f["tokens/ids"][()], self.ids.numpy().reshape(-1)[keep])
            np.testing.assert_array_equal(f["tokens/sequence_offsets"][()], [0, 3, 7])
            for name in ("00", "01"):
                np.testing.assert_array_equal(f[f"layers/{name}/topk_ids"][()], top_k(z[keep]))

    def test_router_that_saw_only_the_real_tokens(self):
        mask = np.ones((2, 5), dtype=np.int64)
        mask[1, 3:] = 0
        keep = mask.reshape(-1).astype(bool)
        z = grid_logits(self.rng, int(keep.sum()), E)
        path, _ = self.record(FakeModel([z]), mask=torch.from_numpy(mask))
        with h5py.File(path, "r") as f:
            self.assertEqual(f["tokens/ids"].shape, (8,))
            np.testing.assert_array_equal(f["layers/00/topk_ids"][()], top_k(z))


if __name__ == "__main__":
    unittest.main()
