import pytest
import torch

from fungi_hb.errors import UserError
from fungi_hb.memory.sampling import patches_per_image, rarity_scores, select_patches


def one_hot_labels(classes: list[list[int]], num_classes: int = 21) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.tensor(classes), num_classes).float()  # (B, P, C)


def slow_scores(labels: torch.Tensor) -> torch.Tensor:
    """The rule as written: f_c = patches containing c; score = sum of f_c over contained classes."""
    out = torch.zeros(labels.shape[:2])
    for b in range(labels.shape[0]):
        for p in range(labels.shape[1]):
            for c in range(labels.shape[2]):
                if labels[b, p, c] > 0:
                    out[b, p] += (labels[b, :, c] > 0).sum()
    return out


def test_scores_equal_the_rule_on_mixed_patches():
    labels = torch.rand(3, 10, 21) * (torch.rand(3, 10, 21) > 0.7)
    torch.testing.assert_close(rarity_scores(labels), slow_scores(labels))


def test_scores_of_a_hand_worked_image():
    # patches: {0}, {0, 1}, {1}, {2}; classes appear in f_0 = 2, f_1 = 2, f_2 = 1 patches
    labels = torch.zeros(1, 4, 21)
    labels[0, 0, 0] = 1.0
    labels[0, 1, 0] = labels[0, 1, 1] = 0.5
    labels[0, 2, 1] = 1.0
    labels[0, 3, 2] = 1.0
    assert rarity_scores(labels).tolist() == [[2.0, 4.0, 2.0, 1.0]]


def test_selection_is_lowest_score_times_uniform_noise():
    labels = torch.rand(2, 12, 21) * (torch.rand(2, 12, 21) > 0.8)
    noise = torch.rand(2, 12, generator=torch.Generator().manual_seed(3))
    keep = select_patches(labels, 4, noise)
    expected = torch.argsort(slow_scores(labels) * noise, dim=1)[:, :4]
    assert torch.equal(keep.sort(1).values, expected.sort(1).values)


def test_rare_class_patches_are_favoured():
    # 99 background patches (score 99 x U) and 1 patch of class 5 (score 1 x U). Keeping 1 patch, the
    # rare one wins when U' < 99 min(U_i); 99 min(U_i) is about Exp(1), so P ~ 1 - 1/e = 0.63, against
    # 1/100 for a background patch.
    labels = one_hot_labels([[0] * 99 + [5]])
    kept = [
        select_patches(labels, 1, torch.rand(1, 100, generator=torch.Generator().manual_seed(s))).item()
        for s in range(400)
    ]
    assert 0.5 < kept.count(99) / 400 < 0.75


def test_count_per_image_and_determinism():
    labels = one_hot_labels([[0, 1, 1, 2, 2, 2, 3, 0], [4, 4, 4, 4, 0, 0, 1, 1]])
    a = select_patches(labels, 3, torch.rand(2, 8, generator=torch.Generator().manual_seed(7)))
    b = select_patches(labels, 3, torch.rand(2, 8, generator=torch.Generator().manual_seed(7)))
    assert a.shape == (2, 3)
    assert torch.equal(a, b)
    assert all(len(set(row)) == 3 for row in a.tolist())


@pytest.mark.parametrize(
    "memory_size, num_images, epochs, expected",
    [
        (100, 10, 1, 10),  # 100 // 10
        (102400, 10582, 1, 9),  # the published VOC setting: 9 patches per image (95238 rows filled)
        (1024000, 10582, 1, 96),
        (10240000, 10582, 1, 967),
        (7, 3, 2, 1),  # 7 // 6
        (1024, 1, 1, 1024),  # every patch of a 512-px image
    ],
)
def test_patches_per_image(memory_size, num_images, epochs, expected):
    assert patches_per_image(memory_size, num_images, epochs, 1024) == expected


def test_memory_size_too_small_or_too_large_is_refused():
    with pytest.raises(ValueError, match="0 patches per image"):
        patches_per_image(5, 10, 1, 16)
    with pytest.raises(ValueError, match="only 16"):
        patches_per_image(10_000, 10, 1, 16)


def test_the_index_plan_takes_leaner_builds_when_ram_is_short_then_refuses(monkeypatch, caplog):
    """The live RAM fallback chain: the published build when it fits, the leanest that fits otherwise (with a
    warning), and a one-line refusal naming what would fit when nothing does."""
    from fungi_hb.index import IndexConfig, backend, plan

    config = IndexConfig(backend="scann", num_neighbors=5)
    rows, dim = 1_000_000, 768
    needs = {c: backend("scann").host_bytes(rows, dim, c) for c in plan._candidates(config)}
    monkeypatch.setattr(plan, "process_rss_bytes", lambda: 0)
    monkeypatch.setattr(plan, "available_ram_bytes", lambda: plan.WORKING_MARGIN + max(needs.values()))
    published = plan.plan_index(config, rows, dim, "support")
    assert (published.build, published.reorder_precision) == ("in-memory", "float32")
    lean = min(needs.values())
    monkeypatch.setattr(plan, "available_ram_bytes", lambda: plan.WORKING_MARGIN + lean)
    choice = plan.plan_index(config, rows, dim, "support")
    assert needs[choice] == lean and choice.build == "streamed"
    assert "does not fit in RAM the published way" in caplog.text
    monkeypatch.setattr(plan, "available_ram_bytes", lambda: plan.WORKING_MARGIN + lean - 1)
    with pytest.raises(UserError, match="does not fit in RAM .* rows would fit"):
        plan.plan_index(config, rows, dim, "support")
