"""eval_gradients.py as a function: evaluation memory of FUNGI (or raw) features -> HummingBird
label transfer on the validation set -> matched mIoU and a results file."""

import hashlib
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from ..atomic import check_writable, save_json
from ..backbones import BackboneConfig, BackboneInfo, build_backbone
from ..data.layout import VOC_CLASSES
from ..data.transforms import TransformConfig
from ..data.voc import DataConfig, ResizedSegmentation, make_loader, train_samples, val_samples
from ..devices import autocast_dtype, resolve_device
from ..errors import UserError
from ..fungi import FungiModel, fungi_features
from ..fungi.negatives import NeighborLayout
from ..fungi.projection import load_projection, make_projection, save_projection
from ..fungi.token_gradients import resolve_linear, token_gradient_width
from ..hummingbird import evaluate
from ..memory_bank import FeatureFn, Memory, MemoryConfig, check_fits_in_ram, fill_memory, planned_rows
from ..memory_io import check_meta, load_features, load_memory, new_memory_id, save_memory, write_meta
from ..miou import matched_miou
from ..search import ExactIndex, IndexConfig, NeighborIndex, build_index, load_index, neighbours_returned, search_tensor
from .common import StageTimer, embedding_fn, environment

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FungiConfig:
    """How FUNGI features are made (METHOD section 6)."""

    gradients_layer: str = "backbone.blocks.11.attn.proj"  # Linear layer whose gradients are taken
    latent_dim: int = 96  # L, output of the random head fc
    num_negative_neighbors: int = 2  # n_neg per token (capped at the support index's k)
    negative_batch_percent: float = 0.5  # q, probability of keeping each pooled negative
    simclr_temperature: float = 0.07  # tau of the SimCLR loss
    negatives_layout: NeighborLayout = NeighborLayout.PUBLISHED  # published (paper) or true neighbours
    projection_matrix: Path | None = None  # load R from here instead of making it from the seed
    save_projection_matrix: Path | None = None  # write R here
    projection_chunk: int | None = None  # tokens per projection chunk (None: automatic)


@dataclass(frozen=True)
class EvalJob:
    """Everything one run of eval_gradients.py needs."""

    backbone: BackboneConfig
    data: DataConfig
    transform: TransformConfig
    memory: MemoryConfig
    index: IndexConfig  # the evaluation index (k = --num-neighbors)
    features: str = "fungi"  # "fungi" or "embeddings" (raw backbone features)
    fungi: FungiConfig = FungiConfig()
    support_features: Path | None = None  # --memory-bank of create_memory_bank.py
    support_index: Path | None = None  # --scann-index of create_memory_bank.py
    temperature: float = 0.02  # label-transfer temperature
    output: Path | None = None  # results JSON
    save_eval_memory: Path | None = None  # folder to keep the evaluation memory in
    load_eval_memory: Path | None = None  # folder to reuse an evaluation memory from
    device: str = "auto"
    use_fp16: bool = False


@dataclass
class Support:
    """The support memory and index that give the negatives."""

    features: torch.Tensor  # [Ms, E], on the device (exact index) or in host RAM (ScaNN)
    index: NeighborIndex
    k: int  # neighbours the index returns per query
    memory_id: str | None  # identity of the support memory (None for banks of the published code)


def load_support(job: EvalJob, info: BackboneInfo, device: torch.device) -> Support:
    """Load and check the support memory and index against the backbone, before the long part."""
    if job.support_features is None or job.support_index is None:
        raise UserError(
            "FUNGI features need the support index: pass --memory-bank and --scann-index "
            "made by create_memory_bank.py (or use --features embeddings)."
        )
    features, meta = load_features(job.support_features)
    if features.shape[1] != info.embed_dim:
        raise UserError(
            f"The support memory {job.support_features} has {features.shape[1]} dims but "
            f"{info.model} gives {info.embed_dim}. Build it with the same --model."
        )
    fix = "Rebuild the support index with create_memory_bank.py and the same --model/--weights/--input-size."
    check_meta(
        meta,
        {
            "model": info.model,
            "input_size": info.input_size,
            "patch_size": info.patch_size,
            "weights": info.weights_source,
        },
        f"support memory {job.support_features}",
        fix,
    )
    index, index_meta = load_index(job.support_index, device)
    if index_meta.get("memory_id") and meta.get("memory_id") and index_meta["memory_id"] != meta["memory_id"]:
        raise UserError(f"The index {job.support_index} was not built from {job.support_features}. {fix}")
    for key, value in (("size", features.shape[0]), ("dim", features.shape[1])):
        if index_meta.get(key) not in (None, value):
            raise UserError(
                f"The index {job.support_index} has {key} {index_meta[key]} but the memory has {value}. {fix}"
            )
    if isinstance(index, ExactIndex):
        features = index.data  # already on the device: no second copy
    return Support(features, index, neighbours_returned(index, features.shape[1]), meta.get("memory_id"))


def memory_beside(index: NeighborIndex, memory: Memory) -> Memory:
    """The evaluation memory where its look-ups are cheapest: with the exact index, its device tensor (no
    second copy); with ScaNN, host RAM (a 10^7-row memory does not fit on a GPU next to the model)."""
    if isinstance(index, ExactIndex):
        return Memory(index.data, memory.labels.to(index.data.device))
    return memory


def capped_negatives(requested: int, available: int) -> int:
    """Quirk 3: more negatives than the support index returns are capped, with a warning."""
    if requested > available:
        logger.warning(
            "%d negatives per token asked for (--num-negative-neighbors/--n-neighbors), but the "
            "support index returns %d neighbours: using %d.",
            requested,
            available,
            available,
        )
        return available
    if requested < 1:
        raise UserError("--num-negative-neighbors must be at least 1.")
    return requested


def fungi_feature_fn(
    model: FungiModel,
    info: BackboneInfo,
    config: FungiConfig,
    projection: torch.Tensor,
    support: Support,
    num_negatives: int,
    device: torch.device,
    dtype: torch.dtype | None,
    seed: int,
) -> FeatureFn:
    """images [B, 3, S, S] -> FUNGI features [B, P, 2E], negatives from the support index."""
    generator = torch.Generator().manual_seed(seed)
    projection = projection.to(device=device, dtype=dtype or torch.float32)

    def neighbors(tokens: torch.Tensor) -> torch.Tensor:
        batch, num_tokens, embed = tokens.shape
        ids = search_tensor(support.index, tokens.reshape(-1, embed), support.k)  # (B*T, K)
        vectors = support.features[ids.to(support.features.device)].to(device)  # (B*T, K, E)
        return vectors.reshape(batch, num_tokens, support.k, embed)

    def extract(images: torch.Tensor) -> torch.Tensor:
        out = fungi_features(
            model,
            images.to(device, non_blocking=True),
            config.gradients_layer,
            projection,
            neighbors,
            num_negatives,
            config.negatives_layout,
            config.negative_batch_percent,
            config.simclr_temperature,
            info.num_prefix_tokens,
            dtype,
            generator,
            config.projection_chunk,
        )
        return out.features

    return extract


@dataclass
class FeatureSetup:
    """How the patch features of this run are computed, and what identifies them."""

    extract: FeatureFn  # images [B, 3, S, S] -> features [B, P, D]
    info: BackboneInfo
    dim: int  # D: E for embeddings, 2E for FUNGI
    identity: dict  # settings that determine the features (checked when an evaluation memory is reused)
    num_negatives: int | None = None  # negatives per token actually used (FUNGI)


def prepare_features(job: EvalJob, device: torch.device, dtype: torch.dtype | None) -> FeatureSetup:
    """Backbone, and for FUNGI the head, layer, projection and support index, all checked up front."""
    backbone, info = build_backbone(job.backbone)
    backbone.to(device)
    identity = {
        "kind": job.features,
        "model": info.model,
        "weights": info.weights_source,
        "input_size": info.input_size,
        "patch_size": info.patch_size,
        "seed": job.data.seed,
        "image_std": list(job.transform.std),
    }
    if job.features == "embeddings":
        extract = embedding_fn(backbone, info.num_prefix_tokens, device, dtype)
        return FeatureSetup(extract, info, info.embed_dim, identity)
    model = FungiModel(backbone, info.embed_dim, job.fungi.latent_dim, job.data.seed).to(device)
    layer = resolve_linear(model, job.fungi.gradients_layer)
    width = token_gradient_width(layer)
    if job.fungi.projection_matrix is not None:
        projection = load_projection(job.fungi.projection_matrix, info.embed_dim, width)
    else:
        projection = make_projection(info.embed_dim, width, job.data.seed)
    if job.fungi.save_projection_matrix is not None:
        save_projection(projection, job.fungi.save_projection_matrix)
    support = load_support(job, info, device)
    num_negatives = capped_negatives(job.fungi.num_negative_neighbors, support.k)
    extract = fungi_feature_fn(model, info, job.fungi, projection, support, num_negatives, device, dtype, job.data.seed)
    identity["fungi"] = {
        "gradients_layer": job.fungi.gradients_layer,
        "latent_dim": job.fungi.latent_dim,
        "num_negatives": num_negatives,
        "negative_batch_percent": job.fungi.negative_batch_percent,
        "simclr_temperature": job.fungi.simclr_temperature,
        "negatives_layout": job.fungi.negatives_layout.value,
        "projection_sha1": hashlib.sha1(projection.numpy().tobytes()).hexdigest(),
        "support_memory_id": support.memory_id,
        "support_k": support.k,
    }
    logger.info(
        "FUNGI: layer %s (%d x %d), %d negatives/token (support k=%d), q=%.2f, %s layout",
        job.fungi.gradients_layer,
        layer.out_features,
        layer.in_features + 1,
        num_negatives,
        support.k,
        job.fungi.negative_batch_percent,
        job.fungi.negatives_layout.value,
    )
    return FeatureSetup(extract, info, 2 * info.embed_dim, identity, num_negatives)


def evaluation_memory(job: EvalJob, setup: FeatureSetup, samples: list) -> Memory:
    """Fill the evaluation memory (and keep it if asked), or reuse a kept one made with the same settings."""
    train_ids = [sample.image.stem for sample in samples]
    meta = dict(
        setup.identity,
        memory_size=job.memory.memory_size,
        augmentation_epochs=job.memory.augmentation_epochs,
        train_ids_sha1=hashlib.sha1("\n".join(train_ids).encode()).hexdigest(),
    )
    if job.load_eval_memory is not None:
        folder = Path(job.load_eval_memory)
        memory, saved = load_memory(folder / "features.pth", folder / "labels.pth")
        check_meta(
            saved,
            meta,
            f"evaluation memory in {folder}",
            "Use the settings it was made with, or build a new one (drop --load-eval-memory).",
        )
    else:
        memory = fill_memory(
            samples,
            job.data,
            job.transform,
            job.memory,
            setup.extract,
            setup.info.patch_size,
            setup.dim,
            desc=f"{job.features} memory",
        )
        if job.save_eval_memory is not None:
            folder = Path(job.save_eval_memory)
            folder.mkdir(parents=True, exist_ok=True)
            save_memory(memory, folder / "features.pth", folder / "labels.pth")
            write_meta(memory, folder / "features.pth", dict(meta, memory_id=new_memory_id()))
            logger.info("Saved the evaluation memory to %s (rerun with --load-eval-memory %s)", folder, folder)
    if memory.features.shape[1] != setup.dim:
        raise UserError(f"The evaluation memory has {memory.features.shape[1]} dims, {setup.dim} expected.")
    return memory


def run_eval(job: EvalJob) -> dict:
    """Run the evaluation; returns the results dict (also written to ``job.output``)."""
    start = time.perf_counter()
    timer = StageTimer()
    if job.features not in ("fungi", "embeddings"):
        raise UserError(f"--features must be fungi or embeddings, not {job.features!r}.")
    for path in (job.output, job.fungi.save_projection_matrix):
        if path is not None:
            check_writable(path)
    if job.save_eval_memory is not None:
        check_writable(Path(job.save_eval_memory) / "features.pth")
    device = resolve_device(job.device)
    samples, validation = train_samples(job.data), val_samples(job.data)
    grid = job.backbone.input_size // job.backbone.patch_size
    rows = None
    if job.load_eval_memory is None:
        rows = planned_rows(job.memory, len(samples), grid * grid, job.index.num_neighbors)
    with timer.stage("setup"):
        setup = prepare_features(job, device, autocast_dtype(device, job.use_fp16))
    if rows is not None:
        check_fits_in_ram(rows, setup.dim)
    with timer.stage("evaluation memory"):
        memory = evaluation_memory(job, setup, samples)
    with timer.stage("evaluation index"):
        index = build_index(memory.features.numpy(), job.index, device)
        memory = memory_beside(index, memory)
    with timer.stage("validation"):
        loader = tqdm(make_loader(ResizedSegmentation(validation, job.transform), job.data), desc="validation")
        confusion = evaluate(loader, setup.extract, memory, index, job.temperature, setup.info.input_size, device)
    result = matched_miou(confusion.numpy())
    logger.info("Per-class IoU: %s", ", ".join(f"{name} {100 * v:.1f}" for name, v in zip(VOC_CLASSES, result.iou)))
    results = {
        "miou": result.miou,
        "miou_percent": round(100 * result.miou, 2),
        "per_class_iou": {name: float(v) for name, v in zip(VOC_CLASSES, result.iou)},
        "tp": result.tp.tolist(),
        "fp": result.fp.tolist(),
        "fn": result.fn.tolist(),
        "matching": result.matching.tolist(),
        "pixels": int(confusion.sum()),
        "num_train_images": len(samples),
        "num_val_images": len(validation),
        "memory_rows": int(memory.features.shape[0]),
        "memory_dim": int(memory.features.shape[1]),
        "index_backend": "exact" if isinstance(index, ExactIndex) else "scann",
        "features": job.features,
        "negatives_layout": job.fungi.negatives_layout.value if job.features == "fungi" else None,
        "num_negatives": setup.num_negatives,
        "feature_identity": setup.identity,
        "backbone": asdict(setup.info),
        "settings": _settings(job),
        "environment": environment(device),
        "seconds": dict(timer.seconds, total=round(time.perf_counter() - start, 3)),
    }
    if job.output is not None:
        save_json(results, Path(job.output))
        logger.info("Results written to %s", job.output)
    return results


def _settings(job: EvalJob) -> dict:
    def clean(value):
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, NeighborLayout):
            return value.value
        if isinstance(value, Path):
            return str(value)
        return value

    return clean(asdict(job))
