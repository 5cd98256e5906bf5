"""The in-package ResNet: depths, block types, stem and pooled output width."""

from __future__ import annotations

import pytest
import torch

from emomtl.models.resnet import BasicBlock, Bottleneck, ResNet


@pytest.mark.parametrize(("depth", "block", "count", "expansion"), [(18, BasicBlock, 8, 1), (34, BasicBlock, 16, 1),
                                                                    (50, Bottleneck, 16, 4)])
def test_depth_selects_block_type_count_and_output_width(depth, block, count, expansion):
    net = ResNet(depth, width=4)
    blocks = [m for m in net.modules() if isinstance(m, (BasicBlock, Bottleneck))]
    assert len(blocks) == count and all(isinstance(b, block) for b in blocks)
    assert net.out_features == 4 * 8 * expansion
    assert net(torch.randn(2, 3, 48, 48)).shape == (2, net.out_features)


def test_stem_is_a_7x7_convolution_with_width_maps_and_a_3x3_max_pool():
    net = ResNet(50, width=64)
    conv, pool = net.stem[0], net.stem[3]
    assert conv.kernel_size == (7, 7) and conv.out_channels == 64 and conv.stride == (2, 2)
    assert pool.kernel_size == 3
    assert 23.4e6 < sum(p.numel() for p in net.parameters()) < 23.6e6  # ResNet-50 without the classifier


def test_unknown_depth_is_refused():
    with pytest.raises(ValueError, match="depth"):
        ResNet(101)
