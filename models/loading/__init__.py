"""What a model is and how it gets into memory: the catalog, where an id loads from,
the bundled offline models, and the cached loader."""
