"""Presets of DINOv2 training (``config.train`` of a study): the official recipe, and a tiny CPU variant.

``official`` is the DINOv2 repository's ``dinov2/configs/train/vitl14.yaml`` on top of
``dinov2/configs/ssl_default_config.yaml``, value for value; where the two differ, the comment names the
default it replaces.

Which models are trained comes from the study's ``config.grid`` (adaptations x methods x degrees, plus
the unadapted model); the anonymization parameters from ``config.anonymize``. Schedules are in epochs
of ``steps_per_epoch`` steps; the peak learning rate is ``base_lr`` scaled to the global batch by
``scaling_rule``.
"""

from __future__ import annotations

import os

import ml_collections


def get_config(preset: str = "official") -> ml_collections.ConfigDict:
    """``official``: ViT-L/14 with the DINOv2 recipe; ``tiny``: a 2-block ViT on 32 px crops that trains in
    minutes on a CPU (tests and the demo study)."""
    c = ml_collections.ConfigDict()
    # anonjax.models.vit_config name: the released ViT-L/14 (patch 14, plain GELU MLP, no registers). vitl14.yaml
    # trains a SwiGLU feed-forward (ffn_layer: swiglufused), but the released ViT-L/14 weights use the MLP, so
    # the architecture follows the checkpoint the studies continue from.
    c.model = "vitl14"
    c.pretrained = ""  # released DINOv2 weights (name or path) to continue from; empty: random init
    c.drop_path_rate = 0.4  # vitl14.yaml (default 0.3)
    c.drop_path_uniform = True
    c.layerscale_init = 1e-5
    c.seed = 0
    # Global, over all devices and hosts: the reference batch of the lr rule. The official run's global batch is
    # its batch_size_per_gpu (32) times its GPU count. What the official code draws or computes per GPU (KoLeo,
    # the stochastic-depth subsets, the iBOT mask strata) is done in groups of group_size consecutive images of
    # the global batch (0: one group, the whole batch): the same sets whatever the devices sharing the batch.
    # Each device computes its groups alone when group_size divides its share of the batch.
    # The official DINOv2 run trained with a global batch of 3072 (batch_size_per_gpu 32 on 96 GPUs). This preset
    # trains with 1024, the reference batch of the lr rule, so its peak lr is base_lr itself (2e-4), not the
    # sqrt(3) x 2e-4 the rule gives 3072: a smaller batch than the official run's, by choice, not a reproduction.
    c.batch_size = 1024
    c.group_size = 32
    # Images per micro-step of exact gradient accumulation (teacher targets and Sinkhorn-Knopp over the whole
    # batch, one optimizer step): 0 the whole batch; a multiple of group_size dividing batch_size; or "auto", the
    # largest that fits the devices' memory (compiled and measured at start; the whole batch on a CPU).
    c.micro_batch = ml_collections.FieldReference(0, field_type=object)  # an int or "auto"
    c.epochs = 500  # vitl14.yaml (default 100)
    c.steps_per_epoch = 1250  # OFFICIAL_EPOCH_LENGTH
    c.head_warmup_steps = 0  # backbone frozen while the fresh heads adapt (use when continuing released weights)
    c.compute_dtype = "bfloat16"  # the official run uses float16 with a gradient scaler
    c.remat = False
    c.fsdp = 1  # devices sharing one copy of parameters and optimizer state
    c.distributed = False  # call jax.distributed.initialize() (multi-host) with the three settings below
    c.coordinator_address = ""  # "host:port" of process 0; empty: detected (Cloud TPU, SLURM, Open MPI, Kubernetes)
    c.num_processes = -1  # -1: detected
    c.process_id = -1  # this process's index; -1: detected
    c.checkpoint_every = 1000
    c.keep_checkpoints = 2
    c.log_every = 10
    c.canvas_size = 512  # images are fitted into a square canvas of this side before cropping
    # Keep an adapted model's anonymized copies of the training images in memory (anonymized once, not at every
    # step) when they fit. The images fitted to the canvas are kept on disk under the work directory, train/canvases.
    c.cache_mb = 2048
    # Processes reading the training batches ahead, one per core of the host; 0: threads of this process (also
    # used while the anonymized copies above are in memory, which processes would each copy).
    c.workers = os.cpu_count() or 1

    c.crops = ml_collections.ConfigDict()
    c.crops.global_size = 224
    c.crops.global_scale = (0.32, 1.0)
    c.crops.local_number = 8
    c.crops.local_size = 98  # vitl14.yaml (default 96): 7 whole patches of 14 px
    c.crops.local_scale = (0.05, 0.32)

    c.augment = ml_collections.ConfigDict()
    c.augment.flip_prob = 0.5
    c.augment.jitter_prob = 0.8
    c.augment.brightness = 0.4
    c.augment.contrast = 0.4
    c.augment.saturation = 0.2
    c.augment.hue = 0.1
    c.augment.grayscale_prob = 0.2
    c.augment.blur_kernel = 9
    c.augment.blur_sigma = (0.1, 2.0)
    c.augment.blur_prob = (1.0, 0.1, 0.5)  # global crop 1, global crop 2, local crops
    c.augment.solarize_prob = 0.2
    c.augment.solarize_threshold = 128

    c.dino = ml_collections.ConfigDict()
    c.dino.loss_weight = 1.0
    c.dino.koleo_loss_weight = 0.1
    c.dino.n_prototypes = 131072  # vitl14.yaml (default 65536)
    c.dino.hidden_dim = 2048
    c.dino.bottleneck_dim = 384  # vitl14.yaml (default 256)
    c.dino.n_layers = 3

    c.ibot = ml_collections.ConfigDict()
    c.ibot.loss_weight = 1.0
    c.ibot.mask_probability = 0.5
    c.ibot.mask_ratio = (0.1, 0.5)
    c.ibot.separate_head = True  # vitl14.yaml (default False)
    c.ibot.n_prototypes = 131072  # vitl14.yaml (default 65536)
    c.ibot.hidden_dim = 2048
    c.ibot.bottleneck_dim = 256  # vitl14.yaml changes only the DINO head's
    c.ibot.n_layers = 3

    c.centering = "sinkhorn_knopp"  # vitl14.yaml (default "centering")
    c.center_momentum = 0.9
    c.student_temp = 0.1

    c.teacher = ml_collections.ConfigDict()
    c.teacher.momentum = 0.994  # vitl14.yaml (default 0.992)
    c.teacher.final_momentum = 1.0
    c.teacher.warmup_temp = 0.04
    c.teacher.temp = 0.07
    c.teacher.warmup_temp_epochs = 30.0

    c.optim = ml_collections.ConfigDict()
    c.optim.base_lr = 2e-4  # for a global batch of 1024; vitl14.yaml (default 0.004)
    c.optim.scaling_rule = "sqrt_wrt_1024"  # the only rule the official code implements; or "linear_wrt_1024"
    c.optim.min_lr = 1e-6
    c.optim.warmup_epochs = 80.0  # vitl14.yaml (default 10)
    c.optim.weight_decay = 0.04
    c.optim.weight_decay_end = 0.2  # vitl14.yaml (default 0.4)
    c.optim.clip_grad = 3.0
    c.optim.freeze_last_layer_epochs = 1.0
    c.optim.layerwise_decay = 1.0  # vitl14.yaml (default 0.9)
    c.optim.patch_embed_lr_mult = 0.2
    c.optim.adamw_beta1 = 0.9
    c.optim.adamw_beta2 = 0.999

    if preset == "tiny":
        _tiny(c)
    elif preset != "official":
        raise ValueError(f"unknown training preset {preset!r}; use 'official' or 'tiny'")
    return c


def _tiny(c: ml_collections.ConfigDict) -> None:
    """Small sizes for a CPU; where vitl14.yaml changes the recipe, ssl_default_config.yaml's values (one
    shared head, softmax centering), a linear lr rule and KoLeo over the whole small batch."""
    c.model = "vit_tiny16"
    c.drop_path_rate = 0.0
    c.layerscale_init = 1.0
    c.batch_size = 32
    c.epochs = 10
    c.steps_per_epoch = 30
    c.compute_dtype = "float32"
    c.checkpoint_every = 100
    c.canvas_size = 64
    c.workers = 0  # on a CPU the cores run the step; a few small images per step are read in threads
    c.crops.global_size = 32
    c.crops.local_number = 2
    c.crops.local_size = 16
    c.augment.blur_kernel = 5
    c.group_size = 0
    c.ibot.separate_head = False
    for head in (c.dino, c.ibot):
        head.n_prototypes = 256
        head.hidden_dim = 128
        head.bottleneck_dim = 64
    c.centering = "centering"
    c.teacher.momentum = 0.992
    c.teacher.warmup_temp_epochs = 3.0
    c.optim.base_lr = 0.02
    c.optim.scaling_rule = "linear_wrt_1024"
    c.optim.warmup_epochs = 1.0
    c.optim.weight_decay_end = 0.4
    c.optim.freeze_last_layer_epochs = 0.5
    c.optim.layerwise_decay = 0.9
