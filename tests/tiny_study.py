"""The one tiny study of the tests: the demo at a tiny size. The end-to-end tests and the processes of the
multi-host test run it whole; the ssl tests train with its ``train`` block, so every test trains the same model
and its programs compile once (and come from the compilation cache after)."""

from pathlib import Path

from anonjax.main import load_config

DEMO = Path(__file__).resolve().parents[1] / "ml_collections_configs" / "demo.py"


def tiny_demo():
    """The demo with 24 + 22 images, one method at one degree, Adaptation A and 20 steps of 8 images; the privacy
    stage measures 2 validation images."""
    config = load_config(DEMO)
    config.data.sizes = {"train": 24, "val": 22, "test": 0}
    config.grid.methods = ("mask",)
    config.grid.degrees = (1.0,)
    config.grid.adaptations = ("A",)
    config.anonymize.stats_images = 2
    config.anonymize.privacy_images = 2  # OCR takes seconds per page on a CPU
    config.anonymize.workers = 1
    config.train.batch_size = 8
    config.train.epochs = 5
    config.train.steps_per_epoch = 4
    config.train.checkpoint_every = 10
    config.train.canvas_size = 64
    config.embed.image_size = 64
    config.embed.batch_size = 8
    config.embed.attention_images = 1
    config.evaluate.n_bootstrap = 20
    return config


def tiny_train():
    """The tiny study's training for the tests of the training loop: 5 steps of one epoch, logged every step and
    checkpointed every 2 (the schedules end at step 5, so the step compiles for 5 steps, not 20)."""
    c = tiny_demo().train
    c.epochs = 1
    c.steps_per_epoch = 5
    c.log_every = 1
    c.checkpoint_every = 2
    return c
