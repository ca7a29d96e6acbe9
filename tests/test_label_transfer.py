import numpy as np
import torch

from conftest import golden
from fungi_hb.evaluation.hummingbird import Transfer, predict_batch
from fungi_hb.evaluation.label_transfer import transfer_labels, upsample_predictions
from fungi_hb.evaluation.miou import confusion_matrix, matched_miou
from fungi_hb.memory.types import Memory


def test_label_transfer_golden():
    g = golden("label_transfer.npz")
    out = transfer_labels(
        torch.from_numpy(g["queries"]),
        torch.from_numpy(g["keys"]),
        torch.from_numpy(g["values"]),
        float(g["temperature"]),
    )
    np.testing.assert_allclose(out.numpy(), g["expected"], atol=1e-5)


def test_label_transfer_equals_a_loop():
    torch.manual_seed(0)
    q, k, v = torch.randn(5, 8), torch.randn(5, 4, 8), torch.rand(5, 4, 21)
    out = transfer_labels(q, k, v, 0.1)
    for i in range(5):
        cos = torch.stack([torch.dot(q[i], k[i, j]) / q[i].norm() / k[i, j].norm() for j in range(4)])
        w = torch.exp(cos / 0.1) / torch.exp(cos / 0.1).sum()
        torch.testing.assert_close(out[i], (w[:, None] * v[i]).sum(0))


def test_evaluation_stage_golden_end_to_end():
    """Exact top-k by dot product, label transfer, bilinear 4x4 -> 32x32, argmax, 255 dropped, mIoU."""
    g = golden("evaluation_stage.npz")
    memory = Memory(torch.from_numpy(g["memory_features"]), torch.from_numpy(g["memory_labels"]))
    queries = torch.from_numpy(g["query_features"])  # (3, 16, 16)
    k = int(g["num_neighbors"])
    ids = torch.topk(queries.flatten(0, 1) @ memory.features.T, k, dim=1).indices  # (48, k)
    transfer = Transfer(transfer_labels, upsample_predictions, float(g["temperature"]), int(g["grid"]), 32)
    pred = predict_batch(queries, ids, memory, transfer)  # (3, 32, 32)
    conf = confusion_matrix(torch.from_numpy(g["val_masks"])[:, 0], pred, 21)
    assert abs(matched_miou(conf.numpy()).miou - float(g["expected_miou"])) < 1e-9
