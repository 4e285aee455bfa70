"""The networks: the LightningModule classifier, its backbones, and Grad-CAM."""
