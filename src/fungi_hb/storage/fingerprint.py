"""Content fingerprints of saved files, so that a reader can tell the parts of an artifact belong
together. Files up to ``FULL_HASH_BYTES`` are hashed in full; larger ones (memory banks of millions of
rows) by their size and 64 blocks of 1 MiB spread over them, which catches a replaced, truncated or
rewritten file but not a change that falls between the blocks."""

import hashlib
from pathlib import Path

FULL_HASH_BYTES = 1 << 30
SAMPLED_BLOCKS, BLOCK_BYTES = 64, 1 << 20


def fingerprint(path: Path) -> str:
    """``sha256:<hex>`` of the whole file, or ``sampled-sha256:<hex>`` of its size and sampled blocks."""
    size = Path(path).stat().st_size
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        if size <= FULL_HASH_BYTES:
            while block := handle.read(BLOCK_BYTES * 8):
                digest.update(block)
            return f"sha256:{digest.hexdigest()}"
        digest.update(str(size).encode())
        for i in range(SAMPLED_BLOCKS):
            handle.seek((size - BLOCK_BYTES) * i // (SAMPLED_BLOCKS - 1))
            digest.update(handle.read(BLOCK_BYTES))
    return f"sampled-sha256:{digest.hexdigest()}"


def fingerprints(path: Path) -> dict[str, str]:
    """{relative name: fingerprint} of a file ("" for itself) or of every file in a folder."""
    path = Path(path)
    if path.is_file():
        return {"": fingerprint(path)}
    return {str(p.relative_to(path)): fingerprint(p) for p in sorted(path.rglob("*")) if p.is_file()}
