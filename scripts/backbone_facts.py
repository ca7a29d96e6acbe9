#!/usr/bin/env python
"""For the shell scripts: a backbone's patch size and the name of its official file in the hub cache.

    python scripts/backbone_facts.py dinov2_vits14_reg   ->   "14 dinov2_vits14_reg4_pretrain.pth"

The file name is a glob where the official names end in a hash (DINOv3), and ``-`` for timm names, which
have no official file. Exits 2 with a one-line reason for a name that does not say its patch size.
"""

import sys

from fungi_hb.features.families import hub_backbones, patch_size_of


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: backbone_facts.py MODEL\n")
        return 2
    model = argv[0]
    patch = patch_size_of(model)
    if patch is None:
        sys.stderr.write(f"{model} does not say its patch size: name a hub model or a timm ViT '..._patch<p>...'\n")
        return 2
    entry = hub_backbones().get(model)
    sys.stdout.write(f"{patch} {entry.file_glob if entry is not None else '-'}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
