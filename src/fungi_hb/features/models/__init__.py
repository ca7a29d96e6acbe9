"""What ``backbone.model`` can name, one module per kind of name (``base.register``): the hub and timm
names, and your own Python function (``path/to/file.py:FUNCTION`` or ``package.module:FUNCTION``)."""
