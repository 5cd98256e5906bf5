"""Model summaries (parameters, MACs per second of audio, output shapes) and the ``emomtl model`` commands."""

from __future__ import annotations

import argparse

import pytest
import torch
from torch import nn

from emomtl.cli import model as model_cli
from emomtl.models import available_models, build_model
from emomtl.models.fft_conv import LongConv1d
from emomtl.models.summary import count_macs, example_inputs, summarize, summarize_config
from model_cases import SMALL, make_tasks, random_inputs


class Wrap(nn.Module):
    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, inputs):
        out = self.module(inputs["x"])
        return {"y": out[0] if isinstance(out, tuple) else out}


def test_lstm_macs_are_counted_per_step_direction_and_layer():
    lstm = nn.LSTM(16, 32, num_layers=2, batch_first=True, bidirectional=True)
    macs, _ = count_macs(Wrap(lstm), {"x": torch.randn(2, 10, 16)})
    per_step = 4 * 32 * ((16 + 32) + (64 + 32))  # gates x (input + hidden) for layer 1 and layer 2
    assert macs == 2 * 10 * 2 * per_step  # batch x steps x directions


def test_attention_macs_include_projections_and_scores():
    attention = nn.MultiheadAttention(32, 4, batch_first=True)

    class SelfAttention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attention = attention

        def forward(self, inputs):
            x = inputs["x"]
            return {"y": self.attention(x, x, x, need_weights=False)[0]}

    macs, _ = count_macs(SelfAttention(), {"x": torch.randn(2, 10, 32)})
    assert macs == 2 * 10 * 32 * 32 * 4 + 2 * 10 * 10 * 32 * 2


def test_fft_convolution_is_counted_and_cheaper_than_the_direct_one():
    direct, _ = count_macs(Wrap(LongConv1d(4, 4, 1000, method="direct")), {"x": torch.randn(1, 4, 8000)})
    fft, _ = count_macs(Wrap(LongConv1d(4, 4, 1000, method="fft")), {"x": torch.randn(1, 4, 8000)})
    assert direct == 4 * 4 * 1000 * 8000
    assert 0 < fft < direct / 5


def test_summary_reports_parameters_macs_per_second_and_output_shapes():
    config, shapes = SMALL["cnn_blstm_att"]
    model = build_model(config, make_tasks(), shapes)
    next(model.parameters()).requires_grad_(False)
    inputs = random_inputs(shapes, batch=2)
    summary = summarize(model, inputs, seconds_of_audio=2.0)
    assert summary.parameters == sum(p.numel() for p in model.parameters())
    assert summary.trainable_parameters < summary.parameters
    assert summary.output_shapes == {"emotion": (4,), "gender": (2,), "va": (2,), "age": ()}
    longer = summarize(model, inputs, seconds_of_audio=4.0)
    assert longer.macs_per_second == pytest.approx(summary.macs_per_second / 2)
    assert model.training, "summarize must restore the training mode"
    text = summary.to_markdown()
    assert "| parameters |" in text and f"{summary.parameters:,}" in text
    assert "| age | (B,) |" in text and "| emotion | (B, 4) |" in text
    assert "multiply-accumulates per second of audio" in text


def test_summarize_config_builds_the_model_on_random_inputs():
    config, shapes = SMALL["bridge_fusion"]
    summary = summarize_config(config, make_tasks(), {**shapes, "text_mask": (6,)}, seconds_of_audio=1.0)
    assert summary.name == "bridge_fusion" and summary.macs_per_second > 0
    inputs = example_inputs({"text_ids": (5,), "text_attention_mask": (5,), "speech_mask": (3,)}, batch_size=2)
    assert inputs["text_ids"].dtype == torch.long and inputs["speech_mask"].dtype == torch.bool


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="emomtl")
    model_cli.register(root.add_subparsers(dest="command", required=True))
    return root


def test_model_list_prints_every_architecture_on_one_line(capsys):
    args = parser().parse_args(["model", "list"])
    assert args.handler(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(available_models())
    assert all(len(line.split()) > 3 for line in lines)


def test_model_summary_prints_markdown_for_a_recipe(tmp_path, capsys):
    (tmp_path / "demo").mkdir()
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(f"""
data: {{corpus: demo, root: {tmp_path / 'demo'}, cache_dir: {tmp_path / 'cache'},
        options: {{speakers: 2, utterances_per_emotion: 1, video: false}}}}
features: {{logmel: {{kind: logmel, n_mels: 32}}}}
inputs: {{logmel: {{length: 64}}}}
tasks:
  - {{name: emotion, kind: classification, column: emotion}}
  - {{name: gender, kind: classification, column: gender}}
model: {{name: multi_exit_cnn, channels: [4, 4, 4, 4, 4], exits: {{gender: 2}}}}
""")
    args = parser().parse_args(["model", "summary", str(recipe), "model.dropout=0.1"])
    assert args.handler(args) == 0
    out = capsys.readouterr().out
    assert out.startswith("### multi_exit_cnn")
    assert "| emotion | (B, 4) |" in out and "| gender | (B, 2) |" in out
    assert "| input `logmel` | (B, 32, 64) |" in out
