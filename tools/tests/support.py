"""Shared helpers for the recorder tests: temporary directories and test data."""

import os
import shutil
import tempfile
import unittest

import numpy as np


class TempDirTestCase(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="moescope-test-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def leftovers(self):
        """Everything in the test directory (temporary files would show up here)."""
        return sorted(os.listdir(self.dir))


def grid_logits(rng, rows, experts, step=0.125, span=4.0):
    """Logits on a coarse grid: many exact ties, yet distinct values far apart.

    Distinct values differ by at least `step`, so any implementation, in float32 or
    float64, orders them the same way; equal values exercise the tie rule. Grid
    values are exact in float16, so storing them loses nothing.
    """
    n = int(round(span / step))
    return rng.integers(-n, n + 1, size=(rows, experts)).astype(np.float64) * step


def distinct_choices(rng, rows, experts, k):
    """Random sets of k distinct experts per row, in random order."""
    return np.argsort(rng.random((rows, experts)), axis=1)[:, :k]
