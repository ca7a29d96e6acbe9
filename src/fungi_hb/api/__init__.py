"""The one-call Python API (``fungi_hb.evaluate``)."""
