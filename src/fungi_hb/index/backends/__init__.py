"""The index backends, one module each. A module here is a backend: its ``NeighborIndex`` subclass is
decorated with ``index.base.register`` and named like the module. ``index.registry`` imports them all."""
