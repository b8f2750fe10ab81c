"""RunLog under torch.distributed: 2 and 4 Gloo processes on the CPU write what one
process writes from the same data (counts summed, losses averaged, rank 0 writes)."""

import os
import unittest

import h5py
import numpy as np

from moescope_recorder import RunLog

from .support import TempDirTestCase

try:
    import torch
    import torch.distributed as dist
    import torch.multiprocessing as mp
except ImportError:  # pragma: no cover
    torch = None

LAYERS, EXPERTS, K, STEPS, TOKENS = 3, 8, 2, 4, 96


def global_batch(step, layer):
    """The whole batch's router logits at one step and layer: the same in every process."""
    rng = np.random.default_rng(1000 * step + layer)
    z = rng.normal(size=(TOKENS, EXPERTS))
    z[:, layer] += 1.5  # some imbalance, different per layer
    return z


def plain_choice(z):
    """Top-K ids per row, ties to the lower id (stable sort of the negated logits)."""
    return np.argsort(-z, axis=1, kind="stable")[:, :K]


def plain_counts(ids):
    return np.bincount(ids.reshape(-1), minlength=EXPERTS)


def _worker(rank, world, store, out_dir):
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    shard = slice(rank * TOKENS // world, (rank + 1) * TOKENS // world)
    # Data parallel: every rank has its own tokens, logits over all experts.
    with RunLog(os.path.join(out_dir, f"dp{world}.h5"), LAYERS, EXPERTS, top_k=K, expert_bias=False) as log:
        for step in range(STEPS):
            log.record(step, logits=[global_batch(step, l)[shard] for l in range(LAYERS)])
    # Expert parallel over all ranks: each holds EXPERTS / world experts and counts
    # the tokens of every rank that reached them.
    per = EXPERTS // world
    with RunLog(os.path.join(out_dir, f"ep{world}.h5"), LAYERS, EXPERTS, top_k=K, expert_bias=False) as log:
        for step in range(STEPS):
            full = np.stack([plain_counts(plain_choice(global_batch(step, l))) for l in range(LAYERS)])
            log.record(step, counts=full[:, rank * per:(rank + 1) * per], expert_offset=rank * per,
                       lb_loss=np.full(LAYERS, rank), z_loss=np.zeros(LAYERS))
    if world == 4:
        # A 2 x 2 mesh: data-parallel replicas {0, 1} and {2, 3} each split the
        # experts over an expert-parallel group; `group` is the data-parallel one.
        eps = [dist.new_group([0, 1]), dist.new_group([2, 3])]
        dps = [dist.new_group([0, 2]), dist.new_group([1, 3])]
        replica, ep_rank = divmod(rank, 2)
        half = slice(replica * TOKENS // 2, (replica + 1) * TOKENS // 2)
        per = EXPERTS // 2
        with RunLog(os.path.join(out_dir, "mesh4.h5"), LAYERS, EXPERTS, top_k=K, expert_bias=False,
                    group=dps[ep_rank], ep_group=eps[replica]) as log:
            for step in range(STEPS):
                local = np.stack([plain_counts(plain_choice(global_batch(step, l)[half])) for l in range(LAYERS)])
                log.record(step, counts=local[:, ep_rank * per:(ep_rank + 1) * per], expert_offset=ep_rank * per,
                           lb_loss=np.full(LAYERS, rank), z_loss=np.zeros(LAYERS))
    dist.destroy_process_group()


@unittest.skipIf(torch is None, "needs torch")
class DistributedRunLogTest(TempDirTestCase):
    def spawn(self, world):
        store = self.path(f"store{world}")
        mp.spawn(_worker, args=(world, store, self.dir), nprocs=world, join=True)

    def series(self, name):
        with h5py.File(self.path(name), "r", swmr=True) as f:
            return {k: f["training"][k][()] for k in ("step", "tokens_per_expert", "lb_loss", "z_loss")}

    def single_process(self):
        path = self.path("single.h5")
        with RunLog(path, LAYERS, EXPERTS, top_k=K, expert_bias=False) as log:
            for step in range(STEPS):
                log.record(step, logits=[global_batch(step, l) for l in range(LAYERS)])
        return self.series("single.h5")

    def check(self, world):
        self.spawn(world)
        single = self.single_process()
        expected = np.stack([[plain_counts(plain_choice(global_batch(s, l))) for l in range(LAYERS)]
                             for s in range(STEPS)])
        self.assertTrue(np.array_equal(single["tokens_per_expert"], expected))
        names = [f"dp{world}.h5", f"ep{world}.h5"] + (["mesh4.h5"] if world == 4 else [])
        # One file per run log (written by rank 0 alone), nothing else.
        self.assertEqual(sorted(n for n in os.listdir(self.dir) if n.endswith(".h5")), sorted(names + ["single.h5"]))
        for name in names:
            got = self.series(name)
            self.assertEqual(list(got["step"]), list(range(STEPS)), name)
            self.assertTrue(np.array_equal(got["tokens_per_expert"], expected), name)
        # Losses are the mean over ranks of each rank's own loss.
        dp = self.series(f"dp{world}.h5")
        for s in range(STEPS):
            for l in range(LAYERS):
                z = global_batch(s, l)
                zs = []
                for r in range(world):
                    part = z[r * TOKENS // world:(r + 1) * TOKENS // world]
                    lse = np.log(np.exp(part).sum(axis=1))
                    zs.append(np.mean(lse ** 2))
                self.assertAlmostEqual(float(dp["z_loss"][s, l]) / np.mean(zs), 1.0, places=5)
        self.assertTrue(np.allclose(self.series(f"ep{world}.h5")["lb_loss"], np.mean(range(world))))
        if world == 4:
            self.assertTrue(np.allclose(self.series("mesh4.h5")["lb_loss"], 1.5))

    def test_two_ranks(self):
        self.check(2)

    def test_four_ranks(self):
        self.check(4)


if __name__ == "__main__":
    unittest.main()
