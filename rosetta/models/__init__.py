"""One package per architecture; each `<arch>/__init__.py` declares it (see rosetta.core.registry)."""
