from collections import deque

import torch

from graphmer_core.model.attention import attention_bias
from graphmer_core.model.distances import alibi_slopes, leafy_distance, leafy_distances


def test_hand_checked_two_roots():
    d = leafy_distances(2)
    assert d.shape == (16, 16)
    # roots 0, 1; leaves of root 0 at 2..8, of root 1 at 9..15
    assert d[0, 1] == 1  # root-root |i-j|
    assert d[0, 2] == 1 and d[1, 9] == 1  # leaf to its own root
    assert d[1, 2] == 2 and d[0, 15] == 2  # leaf to another root: 1 + |i-j|
    assert d[2, 8] == 1 and d[9, 10] == 1  # leaves of the same root
    assert d[2, 9] == 3 and d[8, 15] == 3  # leaves of different roots: 2 + |i-j|
    assert (d.diagonal() == 0).all() and torch.equal(d, d.T)


def test_hand_checked_row_three_roots():
    d = leafy_distances(3)
    # leaf slot 0 of root 1 sits at 3 + 7 = 10: to roots 0,1,2; own leaves; leaves of root 0 and root 2
    row = d[10]
    assert row[:3].tolist() == [2, 1, 2]
    assert row[3:10].tolist() == [3] * 7
    assert row[10:17].tolist() == [0] + [1] * 6
    assert row[17:24].tolist() == [3] * 7


def test_equals_breadth_first_search_on_the_graph():
    R = 4
    n = 8 * R
    adj: list[set[int]] = [set() for _ in range(n)]

    def edge(a, b):
        adj[a].add(b)
        adj[b].add(a)

    for i in range(R - 1):
        edge(i, i + 1)
    for i in range(R):
        slots = [R + 7 * i + k for k in range(7)]
        for a in slots:
            edge(i, a)
            for b in slots:
                if a != b:
                    edge(a, b)
    expected = torch.zeros(n, n)
    for s in range(n):
        dist = {s: 0}
        q = deque([s])
        while q:
            u = q.popleft()
            for v in adj[u]:
                if v not in dist:
                    dist[v] = dist[u] + 1
                    q.append(v)
        expected[s] = torch.tensor([dist[t] for t in range(n)], dtype=torch.float)
    assert torch.equal(leafy_distances(R), expected)


def test_any_subset_of_positions_gets_the_full_layouts_distances():
    R = 6
    full = leafy_distances(R)
    g = torch.Generator().manual_seed(0)
    positions = torch.stack([torch.randperm(8 * R, generator=g)[:20] for _ in range(3)])  # (3, 20)
    d = leafy_distance(positions, R)
    assert d.dtype == torch.int32
    assert torch.equal(d.float(), full[positions[:, :, None], positions[:, None, :]])


def test_alibi_bias_values_and_padding():
    slopes = alibi_slopes(4)
    assert torch.allclose(slopes, torch.tensor([2.0**-2, 2.0**-4, 2.0**-6, 2.0**-8]))
    pos = torch.tensor([[0, 1, 2, 9]])  # two roots, a leaf of root 0, a leaf of root 1
    valid = torch.tensor([[True, True, True, False]])
    bias = attention_bias(pos, valid, 2, slopes)
    assert bias.shape == (1, 4, 4, 4)
    assert torch.allclose(bias[0, :, 2, 1], -slopes * 2)
    assert torch.allclose(bias[0, :, 0, 2], -slopes * 1)
    assert torch.isinf(bias[..., 3]).all()
    pad_only = attention_bias(pos, valid, 2, None)  # ablation: padding alone, shared by heads and queries
    assert pad_only.shape == (1, 1, 1, 4) and torch.isinf(pad_only[..., 3]).all() and (pad_only[..., :3] == 0).all()
