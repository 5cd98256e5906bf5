"""FFT (overlap-save) convolution equals direct convolution; long kernels pick it automatically."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from emomtl.models.fft_conv import LongConv1d, choose_block_length, fft_conv1d, same_padding


@pytest.mark.parametrize("padding", [0, 7, (3, 11), "same"])
@pytest.mark.parametrize("block_length", [None, 128, 4096])
def test_fft_conv_equals_direct_conv_in_double_precision(padding, block_length):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 700, generator=generator, dtype=torch.float64)
    weight = torch.randn(5, 3, 61, generator=generator, dtype=torch.float64)
    bias = torch.randn(5, generator=generator, dtype=torch.float64)
    if isinstance(padding, tuple):
        expected = F.conv1d(F.pad(x, padding), weight, bias)
    elif padding == "same":
        expected = F.conv1d(F.pad(x, same_padding(61)), weight, bias)
    else:
        expected = F.conv1d(x, weight, bias, padding=padding)
    result = fft_conv1d(x, weight, bias, padding, block_length=block_length)
    assert result.shape == expected.shape
    torch.testing.assert_close(result, expected, rtol=1e-10, atol=1e-10)


def test_fft_conv_equals_direct_conv_for_a_4000_tap_kernel_in_float32():
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(1, 4, 12000, generator=generator)
    weight = torch.randn(3, 4, 4000, generator=generator) / 100
    expected = F.conv1d(F.pad(x, same_padding(4000)), weight)
    result = fft_conv1d(x, weight, padding="same")
    scale = expected.abs().max()
    assert (result - expected).abs().max() / scale < 1e-4


def test_fft_conv_gradients_equal_direct_conv_gradients():
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(2, 2, 300, generator=generator, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(3, 2, 40, generator=generator, dtype=torch.float64, requires_grad=True)
    upstream = torch.randn(2, 3, 300, generator=generator, dtype=torch.float64)
    (fft_conv1d(x, weight, padding="same") * upstream).sum().backward()
    fft_grads = x.grad.clone(), weight.grad.clone()
    x.grad = weight.grad = None
    (F.conv1d(F.pad(x, same_padding(40)), weight) * upstream).sum().backward()
    torch.testing.assert_close(fft_grads[0], x.grad)
    torch.testing.assert_close(fft_grads[1], weight.grad)


@pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel")
def test_same_padding_matches_pytorch_for_even_and_odd_kernels():
    x = torch.randn(1, 1, 50, dtype=torch.float64)
    for k in (4, 5, 80):
        w = torch.randn(1, 1, k, dtype=torch.float64)
        torch.testing.assert_close(F.conv1d(F.pad(x, same_padding(k)), w), F.conv1d(x, w, padding="same"))


def test_long_conv_selects_fft_for_long_kernels_only():
    assert LongConv1d(1, 2, 4000, fft_min_kernel=256).uses_fft
    assert not LongConv1d(1, 2, 80, fft_min_kernel=256).uses_fft
    assert LongConv1d(1, 2, 80, method="fft").uses_fft
    assert not LongConv1d(1, 2, 4000, method="direct").uses_fft


def test_long_conv_paths_give_the_same_output_and_keep_the_length():
    torch.manual_seed(0)
    fft = LongConv1d(2, 3, 300, method="fft").double()
    direct = LongConv1d(2, 3, 300, method="direct").double()
    direct.load_state_dict(fft.state_dict())
    x = torch.randn(2, 2, 1000, dtype=torch.float64)
    out = fft(x)
    assert out.shape == (2, 3, 1000)
    torch.testing.assert_close(out, direct(x))


def test_block_length_is_a_power_of_two_holding_at_least_one_kernel_of_outputs():
    for kernel, length in ((4000, 48000), (61, 700), (300, 100)):
        block = choose_block_length(kernel, length)
        assert block & (block - 1) == 0
        assert block >= min(2 * kernel - 1, length + kernel - 1)


def test_input_shorter_than_the_kernel_is_refused():
    with pytest.raises(ValueError, match="shorter than"):
        fft_conv1d(torch.randn(1, 1, 10), torch.randn(1, 1, 20))
