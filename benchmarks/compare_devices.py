#!/usr/bin/env python
"""FUNGI features on CUDA (bfloat16 autocast, as with --use-fp16, and float32) against the CPU in float32,
on the same images, head, projection and support memory: per-patch cosine similarity.

    python benchmarks/compare_devices.py [--input-size 224] [--model dino_vits16]

Needs a CUDA GPU. Random weights (the arithmetic of the real checkpoint); exact retrieval, so no ScaNN.
Prints one JSON line; passes when the minimum cosine is above 0.99.
"""

import argparse
import json
import sys

import torch

from fungi_hb.features.config import BackboneConfig
from fungi_hb.features.models.base import load_backbone
from fungi_hb.fungi import FungiConfig, FungiModel, fungi_features
from fungi_hb.fungi.projection import make_projection
from fungi_hb.fungi.token_gradients import resolve_linear, token_gradient_width
from fungi_hb.log import setup_logging

LAYER = "backbone.blocks.11.attn.proj"


def features_on(device: torch.device, dtype: torch.dtype | None, args, images, support) -> torch.Tensor:
    backbone = load_backbone(BackboneConfig(args.model, "random", args.input_size), 0, device)
    info = backbone.info
    model = FungiModel(backbone.module, info.embed_dim, 96, 0, backbone.tokens, info.num_prefix_tokens).to(device)
    layer = resolve_linear(model, LAYER)
    projection = make_projection(info.embed_dim, token_gradient_width(layer), 0)
    support = support.to(device)

    def neighbors(tokens: torch.Tensor) -> torch.Tensor:
        return support[torch.topk(tokens @ support.T, 5, dim=-1).indices]

    config = FungiConfig(LAYER, negative_batch_percent=1.0)
    out = fungi_features(model, images.to(device), projection.to(device), neighbors, config, autocast_dtype=dtype)
    return out.float().cpu()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="dino_vits16")
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--device", default="cuda", help="cuda; cpu only to try the script out (bf16 on the CPU)")
    args = parser.parse_args()
    setup_logging("WARNING")
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.stderr.write("No CUDA GPU here (use --device cpu to try the script out).\n")
        return 1
    device = torch.device(args.device)
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(args.batch_size, 3, args.input_size, args.input_size, generator=generator)
    embed = load_backbone(BackboneConfig(args.model, "random", args.input_size), 0, torch.device("cpu")).info.embed_dim
    support = torch.nn.functional.normalize(torch.randn(5000, embed, generator=generator), dim=1)
    reference = features_on(torch.device("cpu"), None, args, images, support)
    name = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
    report = {"model": args.model, "input_size": args.input_size, "device_name": name}
    for label, dtype in (("fp32", None), ("bf16", torch.bfloat16)):
        cosine = (features_on(device, dtype, args, images, support) * reference).sum(-1)  # (B, P)
        report[f"{device.type}_{label}"] = {
            "min_cosine": round(cosine.min().item(), 5),
            "mean_cosine": round(cosine.mean().item(), 5),
        }
    report["pass"] = all(v["min_cosine"] > 0.99 for k, v in report.items() if isinstance(v, dict))
    sys.stdout.write(json.dumps(report) + "\n")
    return 0 if report["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
