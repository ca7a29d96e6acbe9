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
from fungi_hb.data.datasets.registry import open_dataset
from fungi_hb.data.samples import train_samples
from fungi_hb.data.synthetic import make_synthetic_dataset
from fungi_hb.data.transforms import TransformConfig
from fungi_hb.features.backbones import BackboneConfig, build_backbone
from fungi_hb.features.embeddings import EmbeddingExtractor
from fungi_hb.features.support import Support
from fungi_hb.fungi import FungiConfig, FungiExtractor, FungiModel
from fungi_hb.fungi.projection import make_projection
from fungi_hb.fungi.token_gradients import resolve_linear, token_gradient_width
from fungi_hb.index import IndexConfig, TensorSource, build_index
from fungi_hb.log import setup_logging
from fungi_hb.memory.build import extract_memory_pieces
from fungi_hb.memory.plan import plan_memory
from fungi_hb.memory.types import MemoryConfig
from fungi_hb.precision import autocast_dtype
from fungi_hb.runs.distributed import World, device_for
from fungi_hb.runs.store import PieceStore


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
    dtype = autocast_dtype(device, args.use_fp16)
    backbone, info = build_backbone(
        BackboneConfig(args.model, "random", args.input_size, 16 if "16" in args.model else 8)
    )
    backbone.to(device)
    with tempfile.TemporaryDirectory() as tmp:
        root = make_synthetic_dataset(Path(tmp), num_train=args.images, num_val=1, size=(375, 500))
        data = DataConfig(root, batch_size=args.batch_size, num_workers=args.num_workers)
        dataset = open_dataset(root)
        samples = train_samples(dataset, data, 0)
        if args.mode == "bank":
            extract = EmbeddingExtractor(backbone, info.num_prefix_tokens, device, dtype)
        else:
            model = FungiModel(backbone, info.embed_dim, 96, 0).to(device)
            config = FungiConfig()
            layer = resolve_linear(model, config.gradients_layer)
            projection = make_projection(info.embed_dim, token_gradient_width(layer), 0)
            support_rows = torch.nn.functional.normalize(torch.randn(args.support_rows, info.embed_dim), dim=1)
            config_index = IndexConfig(backend=args.index_backend, num_neighbors=5)
            index = build_index(TensorSource(support_rows), config_index, device)
            support = Support(index.place(support_rows), index, 5, None)
            extract = FungiExtractor(
                model, projection, support.neighbors, config, info.num_prefix_tokens, info.grid, device, dtype
            )
        images = torch.randn(args.batch_size, 3, args.input_size, args.input_size)
        extract(images, torch.arange(args.batch_size))  # warm-up (allocations, kernels)
        if device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        plan = plan_memory(MemoryConfig(None, 1), len(samples), info.grid**2)
        store = PieceStore(Path(tmp) / "work", "bench", {"what": "benchmark"})
        extract_memory_pieces(
            samples, info.input_size, TransformConfig(), data, 0, "support", plan, extract, info.patch_size,
            dataset.classes, 64, store, World(), args.mode,
        )  # fmt: skip
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    out = {
        "mode": args.mode,
        "model": args.model,
        "input_size": args.input_size,
        "batch_size": args.batch_size,
        "images": args.images,
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "bf16": dtype is not None,
        "threads": torch.get_num_threads(),
        "seconds_per_image": round(seconds / args.images, 4),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_gpu_mib": round(torch.cuda.max_memory_allocated(device) / 2**20, 1) if device.type == "cuda" else None,
    }
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
