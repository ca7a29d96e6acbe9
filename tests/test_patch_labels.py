import numpy as np
import torch

from conftest import golden
from fungi_hb.memory.patch_labels import patch_label_distributions


def test_matches_published_golden_exactly():
    g = golden("patch_labels.npz")
    out = patch_label_distributions(torch.from_numpy(g["masks"]), int(g["patch_size"]), 21)
    np.testing.assert_array_equal(out.numpy(), g["expected_labels"])


def test_ignore_counts_as_background_and_rows_sum_to_one():
    mask = torch.zeros(1, 1, 4, 4, dtype=torch.uint8)
    mask[0, 0, :2, :2] = 255  # top-left patch: all ignore -> class 0
    mask[0, 0, :2, 2:] = torch.tensor([[3, 3], [3, 255]], dtype=torch.uint8)  # top-right: 3/4 class 3
    out = patch_label_distributions(mask, 2, 21)  # (1, 2, 2, 21)
    assert out[0, 0, 0, 0] == 1.0
    assert out[0, 0, 1, 3] == 0.75 and out[0, 0, 1, 0] == 0.25
    torch.testing.assert_close(out.sum(-1), torch.ones(1, 2, 2))


def test_grid_is_row_major():
    mask = torch.zeros(1, 1, 4, 6, dtype=torch.uint8)
    mask[0, 0, :2, 4:] = 7  # row 0, column 2 of a 2 x 3 grid
    out = patch_label_distributions(mask, 2, 21).flatten(1, 2)  # (1, 6, 21)
    assert out[0, 2, 7] == 1.0 and out[0, :, 7].sum() == 1.0
