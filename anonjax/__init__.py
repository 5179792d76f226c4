"""anonjax: how anonymizing faces and text changes image retrieval, in JAX."""

__version__ = "0.1.0"
