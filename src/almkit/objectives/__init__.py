"""Training objectives, one module each (survey: contrastive, generative, discriminative)."""

from almkit.objectives.contrastive import InfoNCELoss, SigmoidLoss, build_contrastive_loss

__all__ = ["InfoNCELoss", "SigmoidLoss", "build_contrastive_loss"]
