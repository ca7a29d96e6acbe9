"""Dense FUNGI features and HummingBird in-context segmentation."""

__version__ = "0.1.0"
