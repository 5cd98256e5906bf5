"""Fixtures of the model tests: tasks, a network guard and tiny local transformers models."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
import torch

from emomtl.models.tasks import TaskSpec
from model_cases import make_tasks


@pytest.fixture(name="tasks")
def tasks_fixture() -> list[TaskSpec]:
    return make_tasks()


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a network connection fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a test tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_hubert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 2-layer, 32-wide HuBERT saved with ``save_pretrained`` (no hub access)."""
    from transformers import HubertConfig, HubertModel

    torch.manual_seed(0)
    config = HubertConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, conv_dim=(16, 16),
        conv_stride=(5, 4), conv_kernel=(10, 8), num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
        vocab_size=10, apply_spec_augment=False,
    )
    directory = tmp_path_factory.mktemp("tiny_hubert")
    HubertModel(config).save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_deberta(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 2-layer, 24-wide DeBERTa-v2 saved with ``save_pretrained`` (no hub access)."""
    from transformers import DebertaV2Config, DebertaV2Model

    torch.manual_seed(0)
    config = DebertaV2Config(
        vocab_size=100, hidden_size=24, num_hidden_layers=2, num_attention_heads=2, intermediate_size=48,
        max_position_embeddings=64,
    )
    directory = tmp_path_factory.mktemp("tiny_deberta")
    DebertaV2Model(config).save_pretrained(directory)
    return directory
