"""GPU-path options that must not break the CPU path: compile, precision and cuDNN defaults."""

from __future__ import annotations

import torch
from hydra.utils import instantiate

from csxa_lightning.config.resolvers import cudnn_benchmark, default_precision
from tests.helpers import compose_train_config


def test_compiled_backbone_gives_the_same_outputs_and_checkpoint_names():
    overrides = ["model=resnet18", "model.pretrained=none"]
    plain = instantiate(compose_train_config(overrides).model)
    compile_eager = ["model.compile=true", "model.compile_backend=eager"]
    compiled = instantiate(compose_train_config(overrides + compile_eager).model)
    assert list(compiled.state_dict()) == list(plain.state_dict())  # no "_orig_mod." prefix
    compiled.load_state_dict(plain.state_dict())
    images = torch.randint(0, 256, (2, 1, 32, 32), dtype=torch.uint8)
    plain.eval(), compiled.eval()
    with torch.no_grad():
        torch.testing.assert_close(compiled(images), plain(images))


def test_precision_and_cudnn_defaults_follow_the_hardware():
    cfg = compose_train_config([])
    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        assert cfg.trainer.precision == default_precision() == "bf16-mixed"
        assert cfg.trainer.benchmark is True
    else:
        assert cfg.trainer.precision == default_precision() == "32-true"
        assert cfg.trainer.benchmark is False
    assert compose_train_config(["trainer.deterministic=true"]).trainer.benchmark is False
    assert cudnn_benchmark(True) is False
    assert compose_train_config(["trainer=cpu"]).trainer.precision == "32-true"
    # The input pipeline follows the trainer's accelerator: the GPU path only on CUDA.
    assert compose_train_config(["trainer=cpu"]).data.augment_on == "loader"
    assert compose_train_config(["trainer=gpu"]).data.augment_on == "device"
