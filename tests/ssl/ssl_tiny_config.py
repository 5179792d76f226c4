"""The tiny training config shared by the ssl tests (one config: its programs compile once per session)."""

from configs.training import get_config


def tiny_train():
    c = get_config("tiny")
    c.batch_size = 8
    c.epochs = 1
    c.steps_per_epoch = 5
    c.log_every = 1
    c.checkpoint_every = 2
    c.canvas_size = 48
    c.crops.global_size = 32
    c.crops.local_size = 16
    c.crops.local_number = 2
    for head in (c.dino, c.ibot):
        head.n_prototypes = 32
        head.hidden_dim = 32
        head.bottleneck_dim = 16
    return c
