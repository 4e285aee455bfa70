"""The trained backbone as a standalone model for other runtimes: `export(cfg)`, what
`python -m csxa_lightning.export` runs. Beside the model it writes <name>.preprocessing.json:
everything needed to make its input from a film (crop, color, size, channel orders,
normalization) and to read its output (classes, threshold, how channel orders combine).

Input contract: float32 (N, 3, S, S), S = the run's image_size, already normalized:
(pixel / 255 - mean[c]) / std[c] of one channel order (a gray film replicated to 3 channels).
Outputs: logits (N, 2) and probabilities (N, 2) = softmax(logits); class 1 is diseased. A film
with two channel orders (color=enhanced, orders=both) is two inputs whose probabilities are
averaged -- what the run's test and `predict` do.
"""

from __future__ import annotations

import copy
import json
import logging
import warnings
from importlib import metadata
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig
from torch import nn

from csxa_lightning.inference.chosen_checkpoint import chosen_checkpoint
from csxa_lightning.inference.loading import TRAINING_THRESHOLD, TrainedModel, load_trained_model
from csxa_lightning.inference.output_paths import check_output
from csxa_lightning.utils.errors import UserError
from csxa_lightning.utils.labels import CLASS_NAMES
from csxa_lightning.utils.whole_files import write_text_whole, written_whole

log = logging.getLogger(__name__)

FORMATS = {"onnx": ".onnx", "torchscript": ".pt"}
INPUT_NAME, OUTPUT_NAMES = "input", ("logits", "probabilities")
ONNX_TOLERANCE = 1e-4  # float32 kernels differ; more than this is a wrong export


class ExportError(UserError):
    """A setting of export that the user can fix; the message says how."""


class NormalizedInputClassifier(nn.Module):
    """The backbone alone: normalized float input in, (logits, probabilities) out."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.net(x)
        return logits, logits.softmax(dim=-1)


def standalone_module(model: TrainedModel) -> NormalizedInputClassifier:
    """A float32 CPU copy in eval mode, in the default memory layout (training used
    channels_last, an optimisation of this codebase, not part of the contract)."""
    net = copy.deepcopy(model.classifier.net).cpu().float()
    return NormalizedInputClassifier(net.to(memory_format=torch.contiguous_format)).eval()


def preprocessing_contract(model: TrainedModel, model_file: Path, fmt: str) -> dict:
    """The JSON written next to the model: how to make its input and read its output."""
    pre = model.preprocessor
    mean, std = model.normalization()
    size = pre.image_size
    variants = list(pre.variants)
    # The backbone's 3 input channels: a one-channel color is replicated to all three.
    channel_names = {
        v: list(names) * (3 // len(names)) for v, names in pre.color.channel_names.items()
    }
    return {
        "model_file": model_file.name,
        "format": fmt,
        "checkpoint": str(model.path.resolve()),
        "arch": model.arch,
        "input": {
            "name": INPUT_NAME,
            "shape": ["batch", 3, size, size],
            "dtype": "float32",
            "formula": "(pixel / 255 - mean[c]) / std[c], pixel = the uint8 model input",
            "mean": mean,
            "std": std,
            "channels_per_variant": channel_names,
        },
        "outputs": {
            "names": list(OUTPUT_NAMES),
            "shape": ["batch", len(CLASS_NAMES)],
            "classes": list(CLASS_NAMES),
            "probabilities": "softmax of the logits",
        },
        "variants": variants,
        "combine_variants": (
            "one input per variant (channel order) of a film; the film's probabilities are "
            "the mean of its variants' probabilities"
        ),
        "threshold": TRAINING_THRESHOLD,
        "decision": "diseased when mean probability of class 1 >= threshold",
        "preprocessing": {
            "steps": (
                "gray (8-bit; 16-bit films mapped from bit_depth bits: auto = the PNG's sBIT, "
                "else the smallest of 10/12/14/16 bits holding the film's maximum) > crop > "
                "color > resize to image_size (area when shrinking, "
                "cubic when growing; non-square crops are stretched); see "
                "csxa_lightning.data.preprocess"
            ),
            "crop": pre.crop.config(),
            "color": pre.color.config(),
            "image_size": size,
            "bit_depth": pre.bit_depth,
            "needs_landmarks": pre.needs_keypoints,
            "spec": pre.spec(),
            "opencv": model.opencv,
        },
        "exported_with": {
            name: metadata.version(name) for name in ("csxa-lightning", "torch", "torchvision")
        },
    }


def export_onnx(module: nn.Module, example: torch.Tensor, path: Path, opset: int) -> None:
    try:
        import onnx  # noqa: F401  (torch's exporter needs it)
    except ImportError as err:
        raise ExportError(
            "format=onnx needs the onnx package; install the export extra: "
            "pip install 'csxa-lightning[export]'"
        ) from err
    with warnings.catch_warnings():
        # The TorchScript-based exporter (dynamo=False) is deprecated in torch 2.9+ but exports
        # these CNNs exactly and needs only `onnx`; the dynamo exporter also needs onnxscript.
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.onnx")
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
        torch.onnx.export(
            module,
            (example,),
            str(path),
            dynamo=False,
            input_names=[INPUT_NAME],
            output_names=list(OUTPUT_NAMES),
            dynamic_axes={name: {0: "batch"} for name in (INPUT_NAME, *OUTPUT_NAMES)},
            opset_version=opset,
        )


def export_torchscript(module: nn.Module, example: torch.Tensor, path: Path) -> None:
    with warnings.catch_warnings():
        # torch.jit is deprecated in torch 2.x (FutureWarning) but still the format that
        # libtorch (C++) and older deployments load.
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch\.jit")
        traced = torch.jit.trace(module, example)
        traced.save(str(path))


def check_onnx(module: nn.Module, example: torch.Tensor, path: Path) -> float | None:
    """Max |probability difference| of onnxruntime against PyTorch, or None without it."""
    try:
        import onnxruntime
    except ImportError:
        log.info("onnxruntime is not installed: %s not checked against PyTorch", path)
        return None
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    _, prob = session.run(None, {INPUT_NAME: example.numpy()})
    with torch.no_grad():
        expected = module(example)[1].numpy()
    return float(np.abs(prob - expected).max())


def export(cfg: DictConfig) -> dict[str, Path]:
    """Write the model file and its .preprocessing.json; returns their paths."""
    ckpt = chosen_checkpoint(cfg)  # ckpt=FILE, or run=DIR's tested checkpoint
    fmt = str(cfg.format or "onnx")
    if fmt not in FORMATS:
        raise ExportError(f"format={fmt!r}; choose one of {sorted(FORMATS)}")
    # Before any work. The default sits beside the checkpoint, in its run folder: a new file
    # named after it (epoch012.onnx), never one of the run's own.
    out = Path(str(cfg.out)).expanduser() if cfg.out else ckpt.with_suffix(FORMATS[fmt])
    out = check_output("out", out, {"checkpoint": [ckpt]}, run_folder_allowed=not cfg.out)
    model = load_trained_model(ckpt, "cpu")
    out.parent.mkdir(parents=True, exist_ok=True)
    module = standalone_module(model)
    size = model.preprocessor.image_size
    # A fixed example: tracing records shapes, the batch axis is declared dynamic.
    example = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    # Written whole: a failed export leaves the file that was there (utils/whole_files.py).
    with written_whole(out) as partial:
        if fmt == "onnx":
            export_onnx(module, example, partial, int(cfg.opset))
        else:
            export_torchscript(module, example, partial)
    if fmt == "onnx":
        difference = check_onnx(module, example, out)
        if difference is not None and difference > ONNX_TOLERANCE:
            log.warning(
                "%s: onnxruntime differs from PyTorch by up to %.2e in probability; check the "
                "onnxruntime and opset versions before relying on it",
                out,
                difference,
            )
        elif difference is not None:
            log.info("onnxruntime vs PyTorch: max |probability difference| %.2e", difference)
    contract = out.with_name(f"{out.stem}.preprocessing.json")
    write_text_whole(contract, json.dumps(preprocessing_contract(model, out, fmt), indent=2) + "\n")
    print(f"model: {out}\npreprocessing: {contract}")
    return {"model": out, "preprocessing": contract}
