"""Reading CSXA, preprocessing, splitting and serving it to Lightning."""
