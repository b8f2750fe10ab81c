"""RoutingRecorder records exactly the choices a small torch MoE made."""

import types
import typing
import unittest

import h5py
import numpy as np

from moescope_recorder import DumpWriter, routing

from .support import TempDirTestCase

try:
    import torch
    from torch import nn
except ImportError:  # the writer works without torch; these tests need it
    torch = None

if torch is not None:
    from moescope_recorder.hooks import RoutingRecorder, record_hf_router_logits, stable_topk

E, K, D, V = 6, 2, 16, 40


def _grid(x):
    # Router logits rounded to halves: exact in float16, many ties, distinct values far apart.
    return torch.round(x * 2) / 2


if torch is not None:

    class LogitRouter(nn.Module):
        """Returns only the logits; the block makes the choice (by the stable rule)."""

        def __init__(self, bias=None):
            super().__init__()
            self.proj = nn.Linear(D, E, bias=False)
            if bias is not None:
                self.register_buffer("expert_bias", torch.tensor(bias, dtype=torch.float32))

        def forward(self, x):
            return _grid(self.proj(x) * 3)

    class Choice(typing.NamedTuple):
        logits: "torch.Tensor"
        topk_ids: "torch.Tensor"
        topk_weights: "torch.Tensor"

    class ChoosingRouter(nn.Module):
        """Makes its own choice with torch.topk (arbitrary tie order) and returns it."""

        def __init__(self, as_tuple):
            super().__init__()
            self.proj = nn.Linear(D, E, bias=False)
            self.as_tuple = as_tuple

        def forward(self, x):
            z = _grid(self.proj(x) * 3)
            w, ids = torch.topk(torch.softmax(z, dim=-1), K, dim=-1)
            w = w / w.sum(-1, keepdim=True)
            if self.as_tuple:
                return w, ids, z, torch.tensor(0.01)  # positional, with an aux-loss scalar
            return Choice(z, ids, w)

    class Block(nn.Module):
        def __init__(self, router):
            super().__init__()
            self.router = router
            self.experts = nn.ModuleList(nn.Linear(D, D) for _ in range(E))
            self.seen_ids = []
            self.seen_weights = []

        def forward(self, x):
            out = self.router(x)
            if torch.is_tensor(out):
                p = torch.softmax(out, dim=-1)
                bias = getattr(self.router, "expert_bias", None)
                _, ids = stable_topk(p if bias is None else p + bias, K)
                w = p.gather(-1, ids)
                w = w / w.sum(-1, keepdim=True)
            elif isinstance(out, tuple) and not hasattr(out, "_fields"):
                w, ids = out[0], out[1]
            else:
                w, ids = out.topk_weights, out.topk_ids
            self.seen_ids.append(ids.reshape(-1, K).clone())
            self.seen_weights.append(w.reshape(-1, K).clone())
            y = torch.zeros_like(x)
            for slot in range(K):
                for e in range(E):
                    sel = ids[..., slot] == e
                    if sel.any():
                        y[sel] += w[..., slot][sel].unsqueeze(-1) * self.experts[e](x[sel])
            return x + y

    class TinyMoE(nn.Module):
        def __init__(self, make_router, layers=3):
            super().__init__()
            self.embed = nn.Embedding(V, D)
            self.blocks = nn.ModuleList(Block(make_router()) for _ in range(layers))

        def forward(self, ids):
            x = self.embed(ids)
            for b in self.blocks:
                x = b(x)
            return x

        def choices(self):
            return [
                (torch.cat(b.seen_ids).numpy(), torch.cat(b.seen_weights).numpy()) for b in self.blocks
            ]


@unittest.skipIf(torch is None, "torch is not installed")
class RoutingRecorderTest(TempDirTestCase):
    def setUp(self):
        super().setUp()
        torch.manual_seed(0)
        self.ids = torch.randint(0, V, (3, 24))

    def record(self, model, path, **kw):
        rec = RoutingRecorder(model, top_k=K, **kw)
        with DumpWriter(path, E, K, vocab=[f"t{i}" for i in range(V)]) as w:
            with torch.no_grad():
                model(self.ids)
            rec.write_to(w, self.ids, ["python", "english", "german"])
        rec.remove()
        return rec

    def test_derived_choices_equal_the_model_choices_with_ties(self):
        model = TinyMoE(LogitRouter)
        path = self.path("derived.h5")
        rec = self.record(model, path)
        self.assertEqual(rec.layer_names, ["blocks.0.router", "blocks.1.router", "blocks.2.router"])
        ties = 0
        with h5py.File(path, "r") as f:
            np.testing.assert_array_equal(f["tokens/ids"][()], self.ids.numpy().reshape(-1))
            np.testing.assert_array_equal(f["tokens/sequence_offsets"][()], [0, 24, 48, 72])
            for i, (ids, weights) in enumerate(model.choices()):
                g = f[f"layers/blocks.{i}.router"]
                self.assertEqual(g.attrs["index"], i)
                np.testing.assert_array_equal(g["topk_ids"][()], ids)
                np.testing.assert_allclose(g["topk_weights"][()], weights, rtol=1e-6)
                z = g["logits"][()].astype(np.float64)
                zs = np.sort(z, axis=1)[:, ::-1]
                ties += int((zs[:, K - 1] == zs[:, K]).sum())  # a tie at the cut decides by id
                # The stored (exact) logits give the same choice again by the reference rule.
                np.testing.assert_array_equal(routing.choose(z, K)[0], ids)
        self.assertGreater(ties, 5, "the test data must contain ties at the top-k cut")

    def test_recorded_model_choice_wins_over_derivation(self):
        differs = 0
        for as_tuple in (False, True):
            with self.subTest(as_tuple=as_tuple):
                model = TinyMoE(lambda: ChoosingRouter(as_tuple))
                path = self.path(f"model-choice-{as_tuple}.h5")
                self.record(model, path)
                with h5py.File(path, "r") as f:
                    for i, (ids, weights) in enumerate(model.choices()):
                        g = f[f"layers/blocks.{i}.router"]
                        np.testing.assert_array_equal(g["topk_ids"][()], ids)
                        np.testing.assert_allclose(g["topk_weights"][()], weights, rtol=1e-6)
                        self.assertEqual(g["logits"].shape, (72, E))
                        derived = routing.choose(g["logits"][()], K)[0]
                        differs += int((derived != ids).any(axis=1).sum())
        # torch.topk breaks some ties differently from routing.md: those rows show that
        # the model's own choice was recorded, not a derived one.
        self.assertGreater(differs, 0)

    def test_expert_bias_enters_the_choice_and_the_dump(self):
        bias = [0.0, 0.0, 0.0, 0.0, 0.0, 2.0]  # expert 5 always wins a slot
        model = TinyMoE(lambda: LogitRouter(bias))
        path = self.path("bias.h5")
        self.record(model, path)
        with h5py.File(path, "r") as f:
            for i, (ids, _) in enumerate(model.choices()):
                g = f[f"layers/blocks.{i}.router"]
                np.testing.assert_array_equal(g["topk_ids"][()], ids)
                self.assertTrue((ids[:, 0] == 5).all())
                np.testing.assert_array_equal(g["expert_bias"][()], bias)

    def test_padding_names_and_explicit_modules(self):
        model = TinyMoE(LogitRouter)
        mask = torch.ones_like(self.ids)
        mask[0, 20:] = 0
        mask[2, 10:] = 0
        path = self.path("masked.h5")
        rec = RoutingRecorder(
            model, modules=[model.blocks[2].router, "blocks.0.router"], top_k=K,
            layer_names=lambda qual, pos: f"{pos:02d}",
        )
        with DumpWriter(path, E, K) as w:
            with torch.no_grad():
                model(self.ids)
            rec.write_to(w, self.ids, "python", attention_mask=mask)
        rec.remove()
        keep = mask.numpy().reshape(-1).astype(bool)
        choices = model.choices()
        with h5py.File(path, "r") as f:
            self.assertEqual(sorted(f["layers"]), ["00", "01"])
            np.testing.assert_array_equal(f["tokens/sequence_offsets"][()], [0, 20, 44, 54])
            np.testing.assert_array_equal(f["tokens/ids"][()], self.ids.numpy().reshape(-1)[keep])
            np.testing.assert_array_equal(f["layers/00/topk_ids"][()], choices[0][0][keep])
            np.testing.assert_array_equal(f["layers/01/topk_ids"][()], choices[2][0][keep])
            self.assertEqual(f["layers/01"].attrs["index"], 1)

    def test_disabled_and_removed_hooks_record_nothing(self):
        model = TinyMoE(LogitRouter)
        rec = RoutingRecorder(model, top_k=K)
        rec.enabled = False
        with torch.no_grad():
            model(self.ids)
        self.assertEqual(rec.pop(), {})
        rec.enabled = True
        rec.remove()
        with torch.no_grad():
            model(self.ids)
        self.assertEqual(rec.pop(), {})

    def test_mismatched_token_count_is_an_error(self):
        model = TinyMoE(LogitRouter)
        rec = RoutingRecorder(model, top_k=K)
        w = DumpWriter(self.path("bad.h5"), E, K)
        self.addCleanup(w.abort)
        with torch.no_grad():
            model(self.ids)
        with self.assertRaisesRegex(RuntimeError, "saw 72 tokens"):
            rec.write_to(w, self.ids[:2])

    def test_no_router_found(self):
        with self.assertRaisesRegex(ValueError, "no router module"):
            RoutingRecorder(nn.Sequential(nn.Linear(2, 2)), top_k=1)


@unittest.skipIf(torch is None, "torch is not installed")
class HuggingFaceHelperTest(TempDirTestCase):
    def test_router_logits_tuple(self):
        torch.manual_seed(1)

        class FakeHfMoE(nn.Module):
            """Shaped like a HF MoE model: router_logits per layer, None for a dense layer."""

            config = types.SimpleNamespace(num_experts_per_tok=2, norm_topk_prob=False)

            def __init__(self):
                super().__init__()
                self.embed = nn.Embedding(V, D)
                self.gates = nn.ModuleList(nn.Linear(D, E) for _ in range(2))

            def forward(self, input_ids=None, attention_mask=None, output_router_logits=False):
                h = self.embed(input_ids)
                logits = [g(h).reshape(-1, E) for g in self.gates]
                rl = (logits[0], None, logits[1]) if output_router_logits else None
                return types.SimpleNamespace(logits=h, router_logits=rl)

        model = FakeHfMoE()
        ids = torch.randint(0, V, (2, 9))
        mask = torch.ones_like(ids)
        mask[1, 6:] = 0
        path = self.path("hf.h5")
        with DumpWriter(path, E, K, normalize_topk=0) as w:
            got = record_hf_router_logits(model, ids, writer=w, labels=["a", "b"], attention_mask=mask)
        self.assertEqual(sorted(got), ["00", "02"])
        keep = mask.numpy().reshape(-1).astype(bool)
        with torch.no_grad():
            h = model.embed(ids)
            want = [model.gates[i](h).reshape(-1, E).numpy() for i in range(2)]
        with h5py.File(path, "r") as f:
            for name, z, idx in (("00", want[0], 0), ("02", want[1], 2)):
                chosen, weights, _ = routing.choose(z, 2, normalize_topk=False)
                np.testing.assert_array_equal(got[name]["topk_ids"], chosen)
                g = f["layers"][name]
                self.assertEqual(g.attrs["index"], idx)
                np.testing.assert_array_equal(g["topk_ids"][()], chosen[keep])
                np.testing.assert_allclose(g["topk_weights"][()], weights[keep], rtol=1e-6)
                np.testing.assert_array_equal(g["logits"][()], z[keep].astype(np.float16))
            self.assertEqual(f["tokens/ids"].shape, (15,))


if __name__ == "__main__":
    unittest.main()
