"""Datasets by name: each one file declaring its layout, splits, classes, ignore value and palette, plus
one line in ``registry.DATASETS``."""
