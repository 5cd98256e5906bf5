"""cnn_blstm_att and functional_mlp: paper layout, attention pooling, errors."""

from __future__ import annotations

import pytest
import torch

from emomtl.errors import ConfigError
from emomtl.models import build_model
from emomtl.models.layers import LocalAttentionPooling
from model_cases import SMALL, make_tasks

CONFIG, SHAPES = SMALL["cnn_blstm_att"]


def test_paper_layout_on_128_mels_of_256_frames():
    model = build_model({"name": "cnn_blstm_att"}, make_tasks(), {"logmel": (128, 256)})
    convs = [m for m in model.convs if isinstance(m, torch.nn.Conv1d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size[0]) for c in convs] == [
        (128, 512, 3), (512, 1024, 1), (1024, 2048, 3)]
    assert model.bottleneck[0].out_features == 512
    assert model.blstm.hidden_size == 128 and model.blstm.num_layers == 2 and model.blstm.bidirectional
    assert model.attention.num_heads == 16 and model.attention.embed_dim == 256
    assert model.settings.dropout == 0.35


def test_local_attention_pooling_is_a_softmax_weighted_mean_that_skips_padding():
    pooling = LocalAttentionPooling(3)
    sequence = torch.randn(2, 5, 3)
    weights = torch.softmax(pooling.score(sequence).squeeze(-1), dim=1)
    torch.testing.assert_close(pooling(sequence), (weights.unsqueeze(-1) * sequence).sum(1))
    valid = torch.tensor([[True] * 5, [True, True, False, False, False]])
    pooled = pooling(sequence, valid)
    changed = sequence.clone()
    changed[1, 2:] = 50.0
    torch.testing.assert_close(pooling(changed, valid), pooled)


def test_frames_interact_through_self_attention():
    model = build_model(CONFIG, make_tasks(), SHAPES).eval()
    x = torch.randn(1, 32, 20)
    changed = x.clone()
    changed[..., -1] += 1.0
    assert not torch.allclose(model({"logmel": x})["emotion"], model({"logmel": changed})["emotion"])


@pytest.mark.parametrize(("change", "match"), [
    ({"attention_heads": 5}, r"model\.attention_heads: 5 heads do not divide the BLSTM output width 16"),
    ({"conv_kernels": [3, 1]}, r"model\.conv_kernels: 2 kernels for 3 conv_channels"),
    ({"dropout": -0.1}, r"model\.dropout"),
])
def test_bad_settings_are_refused(change, match):
    with pytest.raises(ConfigError, match=match):
        build_model({**CONFIG, **change}, make_tasks(), SHAPES)


def test_log_mel_input_is_required():
    with pytest.raises(ConfigError, match=r"provides no 'logmel' input"):
        build_model(CONFIG, make_tasks(), {"functionals": (88,)})


def test_functional_mlp_layers_follow_the_hidden_sizes():
    model = build_model({"name": "functional_mlp", "hidden": [32, 8], "input_batchnorm": False}, make_tasks(),
                        {"functionals": (88,)})
    linears = [m for m in model.trunk if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(88, 32), (32, 8)]
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in model.trunk)
    with pytest.raises(ConfigError, match=r"model\.inputs: functional_mlp \(utterance-level vectors\) requested"):
        build_model({"name": "functional_mlp"}, make_tasks(), {"logmel": (64, 10)})


def test_functional_mlp_fuses_its_vector_inputs_in_order():
    model = build_model({"name": "functional_mlp", "hidden": [8], "input_batchnorm": False,
                         "inputs": ["compare", "egemaps"]}, make_tasks(), {"compare": (30,), "egemaps": (6,)})
    assert model.trunk[0].in_features == 36
    compare, egemaps = torch.randn(2, 30), torch.randn(2, 6)
    model.eval()
    fused = model({"compare": compare, "egemaps": egemaps})
    swapped = model.trunk[0].weight.data.clone()
    model.trunk[0].weight.data = torch.cat([swapped[:, :30] * 0, swapped[:, 30:]], dim=1)  # the last 6 are eGeMAPS
    only_egemaps = model({"compare": torch.randn(2, 30), "egemaps": egemaps})
    again = model({"compare": compare, "egemaps": egemaps})
    for name in fused:
        torch.testing.assert_close(only_egemaps[name], again[name])
    with pytest.raises(ConfigError, match=r"model\.inputs: input 'egemaps' must have per-sample shape"):
        build_model({"name": "functional_mlp", "inputs": ["compare", "egemaps"]}, make_tasks(),
                    {"compare": (30,), "egemaps": (6, 4)})


def test_functional_mlp_input_dropout_drops_inputs_in_training_only():
    model = build_model({"name": "functional_mlp", "hidden": [8], "input_batchnorm": False, "input_dropout": 0.5},
                        make_tasks(), {"functionals": (88,)})
    assert isinstance(model.trunk[0], torch.nn.Dropout) and model.trunk[0].p == 0.5
    with pytest.raises(ConfigError, match="input_dropout"):
        build_model({"name": "functional_mlp", "input_dropout": 1.5}, make_tasks(), {"functionals": (88,)})


def test_functional_mlp_mixes_encoder_layers_with_learnable_softmax_weights():
    model = build_model({"name": "functional_mlp", "hidden": [8], "input_batchnorm": False, "layer_mix": "softmax"},
                        make_tasks(), {"functionals": (3, 10)})
    assert model.trunk[0].in_features == 10
    torch.testing.assert_close(model.mixes["functionals"].logits.detach(), torch.zeros(3))
    x = torch.randn(4, 3, 10)
    model.eval()
    with torch.no_grad():
        model.mixes["functionals"].logits.copy_(torch.tensor([-1e9, 0.0, -1e9]))  # all weight on layer 1
        picked = model({"functionals": x})
        chosen = build_model({"name": "functional_mlp", "hidden": [8], "input_batchnorm": False, "layer_mix": 1},
                             make_tasks(), {"functionals": (3, 10)})
        chosen.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("mixes.")})
        chosen.eval()
        expected = chosen({"functionals": x})
    for name in picked:
        torch.testing.assert_close(picked[name], expected[name])
    concat = build_model({"name": "functional_mlp", "hidden": [8], "layer_mix": "concat"}, make_tasks(),
                         {"functionals": (3, 10)})
    assert concat.trunk[1].in_features == 30
    with pytest.raises(ConfigError, match="layer_mix"):
        build_model({"name": "functional_mlp", "layer_mix": "max"}, make_tasks(), {"functionals": (3, 10)})
    with pytest.raises(ConfigError, match="layer 5 of an input with 3 layers"):
        build_model({"name": "functional_mlp", "layer_mix": 5}, make_tasks(), {"functionals": (3, 10)})


def test_functional_mlp_task_inputs_give_a_task_its_own_input_and_trunk():
    model = build_model({"name": "functional_mlp", "hidden": [8], "input_batchnorm": False,
                         "inputs": ["middle"], "task_inputs": {"gender": ["low"]}},
                        make_tasks(), {"middle": (12,), "low": (5,)})
    assert set(model.input_keys) == {"middle", "low"}
    model.eval()
    middle, low = torch.randn(2, 12), torch.randn(2, 5)
    base = model({"middle": middle, "low": low})
    other_low = model({"middle": middle, "low": torch.randn(2, 5)})
    other_middle = model({"middle": torch.randn(2, 12), "low": low})
    torch.testing.assert_close(base["emotion"], other_low["emotion"])  # emotion never reads the low layer
    torch.testing.assert_close(base["gender"], other_middle["gender"])  # gender never reads the middle layer
    assert not torch.allclose(base["gender"], other_low["gender"])
    # a single-task arm of the recipe: the entry of its absent task does not apply
    alone = build_model({"name": "functional_mlp", "hidden": [8], "inputs": ["middle"],
                         "task_inputs": {"gender": ["low"]}},
                        [t for t in make_tasks() if t.name == "emotion"], {"middle": (12,), "low": (5,)})
    assert set(alone.input_keys) == {"middle"}


def test_whole_recordings_give_the_same_output_alone_or_padded_in_a_batch():
    from emomtl.models import build_model
    from emomtl.models.tasks import TaskSpec

    torch.manual_seed(0)
    config = {"name": "cnn_blstm_att", "conv_channels": [8, 8, 8], "bottleneck": 8, "lstm_hidden": 8,
              "attention_heads": 2}
    model = build_model(config, [TaskSpec("emotion", "classification", classes=["a", "b"])], {"logmel": (16, 40)})
    model.eval()
    short, long = torch.randn(1, 16, 25), torch.randn(1, 16, 40)
    padded = torch.cat([torch.nn.functional.pad(short, (0, 15), value=3.0), long])
    mask = torch.arange(40)[None] < torch.tensor([[25], [40]])
    with torch.no_grad():
        alone = model({"logmel": short, "logmel_mask": torch.ones(1, 25, dtype=torch.bool)})["emotion"]
        batched = model({"logmel": padded, "logmel_mask": mask})["emotion"]
        unmasked = model({"logmel": padded})["emotion"]
    torch.testing.assert_close(batched[:1], alone, rtol=0, atol=1e-5)
    assert not torch.allclose(unmasked[:1], alone, atol=1e-4)  # without the mask the padding leaks in


def test_a_row_without_any_valid_frame_gives_a_finite_output():
    from emomtl.models import build_model
    from emomtl.models.tasks import TaskSpec

    config = {"name": "cnn_blstm_att", "conv_channels": [8, 8, 8], "conv_kernels": [2, 1, 3], "bottleneck": 8,
              "lstm_hidden": 8, "attention_heads": 2}  # an even kernel too
    model = build_model(config, [TaskSpec("emotion", "classification", classes=["a", "b"])], {"logmel": (16, 40)})
    mask = torch.arange(40)[None] < torch.tensor([[0], [40]])
    out = model({"logmel": torch.randn(2, 16, 40), "logmel_mask": mask})["emotion"]
    assert torch.isfinite(out).all()


def test_masked_batch_norm_equals_batch_norm_when_every_frame_is_valid():
    from emomtl.models.layers import masked_batch_norm

    torch.manual_seed(0)
    reference, masked = torch.nn.BatchNorm1d(4), torch.nn.BatchNorm1d(4)
    masked.load_state_dict(reference.state_dict())
    x, valid = torch.randn(3, 4, 10) * 2 + 1, torch.ones(3, 10, dtype=torch.bool)
    for _ in range(2):  # two training steps move the running statistics
        torch.testing.assert_close(masked_batch_norm(masked, x, valid), reference(x))
    torch.testing.assert_close(masked.running_mean, reference.running_mean)
    torch.testing.assert_close(masked.running_var, reference.running_var)
    reference.eval(), masked.eval()
    torch.testing.assert_close(masked_batch_norm(masked, x, valid), reference(x))


def test_padding_changes_neither_training_outputs_nor_batch_norm_statistics():
    """In training mode (dropout 0), the same recordings padded to 30 or to 60 frames give the same logits and move
    batch norm's running statistics alike: padded frames never enter its statistics."""
    from emomtl.models import build_model
    from emomtl.models.tasks import TaskSpec

    torch.manual_seed(0)
    config = {"name": "cnn_blstm_att", "conv_channels": [8, 8, 8], "bottleneck": 8, "lstm_hidden": 8,
              "attention_heads": 2, "dropout": 0.0}
    tasks = [TaskSpec("emotion", "classification", classes=["a", "b"])]
    model = build_model(config, tasks, {"logmel": (16, 30)})
    twin = build_model(config, tasks, {"logmel": (16, 30)})
    twin.load_state_dict(model.state_dict())
    model.train(), twin.train()
    recordings = torch.randn(2, 16, 30)
    lengths = torch.tensor([[20], [30]])
    short = recordings.clone()
    short[0, :, 20:] = 3.0  # padding value of the first row
    longer = torch.nn.functional.pad(short, (0, 30), value=3.0)
    out = model({"logmel": short, "logmel_mask": torch.arange(30)[None] < lengths})["emotion"]
    out_longer = twin({"logmel": longer, "logmel_mask": torch.arange(60)[None] < lengths})["emotion"]
    torch.testing.assert_close(out, out_longer, rtol=0, atol=1e-5)
    for name, buffer in model.state_dict().items():
        if "running" in name:
            torch.testing.assert_close(buffer, twin.state_dict()[name], rtol=0, atol=1e-6)


@pytest.mark.parametrize("settings", [{}, {"momentum": None}, {"affine": False}, {"track_running_stats": False}])
def test_masked_batch_norm_is_batch_norm_of_the_valid_frames(settings):
    from emomtl.models.layers import masked_batch_norm

    torch.manual_seed(0)
    reference, masked = torch.nn.BatchNorm1d(4, **settings), torch.nn.BatchNorm1d(4, **settings)
    masked.load_state_dict(reference.state_dict())
    x = torch.randn(3, 4, 10) * 2 + 1
    valid = torch.arange(10)[None] < torch.tensor([[4], [10], [7]])
    frames = x.permute(0, 2, 1)[valid]  # (valid frames, channels): what the layer should see
    for _ in range(3):
        out = masked_batch_norm(masked, x, valid)
        torch.testing.assert_close(out.permute(0, 2, 1)[valid], reference(frames))
    for name, buffer in reference.state_dict().items():
        torch.testing.assert_close(masked.state_dict()[name], buffer)
    reference.eval(), masked.eval()
    torch.testing.assert_close(masked_batch_norm(masked, x, valid).permute(0, 2, 1)[valid], reference(frames))
