"""The public losses of DINOv2 training, one module per loss (re-exported here)."""

from anonjax.ssl.dino_loss import dino_loss, sinkhorn_knopp, softmax_center, update_center
from anonjax.ssl.ibot_loss import ibot_loss
from anonjax.ssl.koleo_loss import koleo_loss

__all__ = ["dino_loss", "ibot_loss", "koleo_loss", "sinkhorn_knopp", "softmax_center", "update_center"]
