"""Models: the DINOv2 vision transformer, its weights, embeddings and attention maps."""
