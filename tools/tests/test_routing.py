"""The numpy reference of routing.md that the recorder and the CLI checks rely on."""

import unittest

import numpy as np

from moescope_recorder import routing


class ChoiceTest(unittest.TestCase):
    def test_ties_go_to_the_lower_id_best_first(self):
        z = np.array([[1.0, 3.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0, 2.0]])
        ids, w, valid = routing.choose(z, 3)
        np.testing.assert_array_equal(ids, [[1, 2, 3], [0, 1, 2]])
        np.testing.assert_allclose(w, np.full((2, 3), 1 / 3))
        self.assertTrue(valid.all())

    def test_sigmoid_bias_and_unnormalised_weights(self):
        z = np.array([[0.0, 1.0, -1.0, 2.0]])
        bias = np.array([0.0, 0.0, 5.0, 0.0])
        ids, w, _ = routing.choose(z, 2, scoring="sigmoid", normalize_topk=False, expert_bias=bias)
        np.testing.assert_array_equal(ids, [[2, 3]])
        sig = 1 / (1 + np.exp(-z[0]))
        np.testing.assert_allclose(w, [[sig[2], sig[3]]])  # the bias never enters a weight

    def test_scaling_factor(self):
        _, w, _ = routing.choose(np.array([[0.0, 1.0]]), 2, routed_scaling_factor=2.5)
        self.assertAlmostEqual(w.sum(), 2.5)

    def test_group_limited(self):
        # Groups {0,1}, {2,3}, {4,5}; group scores by the sum of the two best.
        z = np.log(np.array([[0.30, 0.01, 0.12, 0.12, 0.25, 0.20]]))
        ids, _, _ = routing.choose(z, 2, n_group=3, topk_group=1)
        np.testing.assert_array_equal(ids, [[4, 5]])  # expert 0 is best but its group loses
        ids, _, _ = routing.choose(z, 2, n_group=3, topk_group=2)
        np.testing.assert_array_equal(ids, [[0, 4]])

    def test_invalid_rows(self):
        z = np.array([[0.0, np.nan], [np.inf, 0.0], [1.0, 0.0]])
        ids, _, valid = routing.choose(z, 1)
        np.testing.assert_array_equal(valid, [False, False, True])
        np.testing.assert_array_equal(ids[:, 0], [-1, -1, 0])


class HealthTest(unittest.TestCase):
    def test_load_figures(self):
        c = np.array([6, 2, 0, 0])  # k=2, T=4: m=2
        h = routing.load_health(c, 2, 4)
        self.assertEqual(h["hot"], [0])
        self.assertEqual(h["cold"], [2, 3])
        self.assertAlmostEqual(h["max_vio"], 2.0)
        self.assertAlmostEqual(h["cv"], np.std(c) / 2)
        u = np.array([0.75, 0.25])
        self.assertAlmostEqual(h["entropy"], -(u * np.log(u)).sum() / np.log(4))

    def test_token_order_drops(self):
        # E=2, k=1, T=4, CF=1: capacity 2. Tokens 0, 1, 2 all pick expert 0.
        ids = np.array([[0], [0], [0], [1]])
        dropped, fully, kept = routing.token_order_drops(ids, 2, 1.0)
        np.testing.assert_array_equal(kept[:, 0], [True, True, False, True])
        self.assertAlmostEqual(dropped, 0.25)
        self.assertAlmostEqual(fully, 0.25)
        # Score priority: the highest weights win, whatever their position.
        w = np.array([[0.2], [0.9], [0.8], [0.5]])
        _, _, kept = routing.token_order_drops(ids, 2, 1.0, weights_for_priority=w)
        np.testing.assert_array_equal(kept[:, 0], [False, True, True, True])

    def test_slot_zero_of_every_token_comes_first(self):
        # E=2, k=2, T=2, CF=0.5: capacity 1 per expert.
        ids = np.array([[0, 1], [1, 0]])
        _, fully, kept = routing.token_order_drops(ids, 2, 0.5)
        np.testing.assert_array_equal(kept, [[True, False], [True, False]])
        self.assertEqual(fully, 0.0)


if __name__ == "__main__":
    unittest.main()
