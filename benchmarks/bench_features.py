#!/usr/bin/env python
"""Seconds per image and peak memory of the two feature pipelines, on the real code path.

    python benchmarks/bench_features.py --mode bank  --input-size 512 --images 16
    python benchmarks/bench_features.py --mode fungi --input-size 512 --images 8 --batch-size 4 \
        [--device cuda --use-fp16]

``bank`` times what create_memory_bank.py does per image (loading, augmentation, raw DINO features,
patch labels, sampling); ``fungi`` what eval_gradients.py does per image to fill the evaluation memory
(forward, support retrieval, SimCLR loss, per-token gradients, projection). The backbone is dino_vits16
(or --model) with random weights: the same arithmetic as the real checkpoint. Prints one JSON line.
Peak host memory is the process's maximum RSS; peak GPU memory comes from torch.cuda.
"""

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import torch

from fungi_hb.data.config import DataConfig
from fungi_hb.data.loading import Augmentation
from fungi_hb.data.synthetic import make_synthetic_dataset
from fungi_hb.data.transform_config import TransformConfig
from fungi_hb.features.config import BackboneConfig
from fungi_hb.features.embeddings import EmbeddingExtractor
from fungi_hb.features.models.base import load_backbone
from fungi_hb.features.support import Support
from fungi_hb.fungi import FungiConfig, FungiExtractor, FungiModel
from fungi_hb.fungi.projection import make_projection
from fungi_hb.fungi.token_gradients import resolve_linear, token_gradient_width
from fungi_hb.index import IndexConfig, TensorSource, build_index
from fungi_hb.jobs.data_setup import prepare_data
from fungi_hb.jobs.feature_setup import row_rule
from fungi_hb.log import setup_logging
from fungi_hb.memory.build import MemoryRecipe, extract_memory_pieces
from fungi_hb.memory.config import MemoryConfig
from fungi_hb.memory.plan import plan_memory
from fungi_hb.precision import Placement, autocast_dtype
from fungi_hb.runs.distributed import World, device_for
from fungi_hb.runs.runner import Loading
from fungi_hb.runs.store import PieceStore


def _fungi_extractor(backbone, placement: Placement, support_rows: int, index_backend: str) -> FungiExtractor:
    """FUNGI over a random support memory of ``support_rows`` rows (the search costs what a real one does)."""
    info, device = backbone.info, placement.device
    model = FungiModel(backbone.module, info.embed_dim, 96, 0, backbone.tokens, info.num_prefix_tokens).to(device)
    config = FungiConfig()
    layer = resolve_linear(model, config.gradients_layer)
    projection = make_projection(info.embed_dim, token_gradient_width(layer), 0)
    rows = torch.nn.functional.normalize(torch.randn(support_rows, info.embed_dim), dim=1)  # (Ms, E)
    index = build_index(TensorSource(rows), IndexConfig(backend=index_backend, num_neighbors=5), device)
    support = Support(index.place(rows), index, 5, None, Path("random support rows"))
    return FungiExtractor(model, projection, support.neighbors, config, info.num_tokens, placement)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("bank", "fungi"), required=True)
    parser.add_argument("--model", default="dino_vits16")
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--use-fp16", action="store_true")
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument("--support-rows", type=int, default=102400, help="support memory size (random rows)")
    parser.add_argument("--index-backend", default="scann")
    args = parser.parse_args()
    setup_logging("WARNING")
    device = device_for(args.device, World())
    placement = Placement(device, autocast_dtype(device, args.use_fp16))
    backbone = load_backbone(BackboneConfig(args.model, "random", args.input_size), 0, device)
    info = backbone.info
    with tempfile.TemporaryDirectory() as tmp:
        root = make_synthetic_dataset(Path(tmp) / "voc", num_train=args.images, num_val=1, size=(375, 500))
        data_config = DataConfig(root, batch_size=args.batch_size, num_workers=args.num_workers)
        data = prepare_data(data_config, 0, False, World())
        if args.mode == "bank":
            extract = EmbeddingExtractor(backbone, placement)
        else:
            extract = _fungi_extractor(backbone, placement, args.support_rows, args.index_backend)
        images = torch.randn(args.batch_size, 3, info.input_size, info.input_size, device=device)
        extract(images, torch.arange(args.batch_size))  # warm-up (allocations, kernels)
        if device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        plan = plan_memory(MemoryConfig(None, 1), len(data.train), info.grid**2)
        augmentation = Augmentation(info.input_size, TransformConfig(), 0, "support", plan.epochs)
        recipe = MemoryRecipe(data.train, data.targets, plan, augmentation, row_rule(data.task(), info.patch_size))
        loading = Loading.of(len(data.train), args.batch_size, args.num_workers, None)
        store = PieceStore(Path(tmp) / "work", "bench", {"what": "benchmark"})
        start = time.perf_counter()
        extract_memory_pieces(recipe, extract, store, loading, World(), args.mode)
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    out = {
        "mode": args.mode,
        "model": args.model,
        "input_size": info.input_size,
        "batch_size": args.batch_size,
        "images": args.images,
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "bf16": placement.autocast_dtype is not None,
        "threads": torch.get_num_threads(),
        "seconds_per_image": round(seconds / args.images, 4),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_gpu_mib": round(torch.cuda.max_memory_allocated(device) / 2**20, 1) if device.type == "cuda" else None,
    }
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
