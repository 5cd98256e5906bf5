"""Class-balanced cross-entropy (``tasks[].class_weight: balanced``): weights from the training rows only."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emomtl.errors import ConfigError
from emomtl.models.tasks import IGNORE_INDEX, TaskSpec, balanced_class_weights, task_loss
from emomtl.training.experiment import build_splits
from emomtl.training.loop import SplitJob, SplitTrainer
from emomtl.training.prepare import fit_tasks, prepare_corpus

from engine_fixtures import tiny_recipe


def test_balanced_weights_are_inverse_frequencies_of_the_labelled_rows():
    targets = np.array([0, 0, 0, 1, IGNORE_INDEX, 1, 0, 0])  # 5 x class 0, 2 x class 1, class 2 absent
    weights = balanced_class_weights(targets, 3)
    torch.testing.assert_close(weights, torch.tensor([7 / (2 * 5), 7 / (2 * 2), 1.0]))
    counts = np.bincount(targets[targets != IGNORE_INDEX], minlength=3)
    assert float((weights * torch.tensor(counts)).sum()) == pytest.approx(7.0)  # total weight = number of samples


def test_weighted_loss_matches_torch_and_lets_each_class_count_equally():
    task = TaskSpec("emotion", classes=["a", "b"], class_weight="balanced")
    logits = torch.tensor([[2.0, 0.0], [2.0, 0.0], [2.0, 0.0], [0.0, 2.0], [0.0, 0.0]])
    target = torch.tensor([0, 0, 0, 1, IGNORE_INDEX])
    weights = balanced_class_weights(target.numpy(), 2)
    loss = task_loss(task, logits, target, weights)
    expected = torch.nn.functional.cross_entropy(logits[:4], target[:4], weight=weights)
    assert loss.item() == pytest.approx(expected.item())
    # a mistake on the rare class now costs as much as the same mistake on all of the frequent one
    wrong_rare = task_loss(task, logits, torch.tensor([0, 0, 0, 0, 1]),
                           balanced_class_weights(np.array([0, 0, 0, 0, 1]), 2))
    assert wrong_rare > task_loss(task, logits, torch.tensor([0, 0, 0, 0, 1]))


@pytest.mark.parametrize("spec", [{"kind": "regression", "class_weight": "balanced"}, {"class_weight": "inverse"}])
def test_class_weight_is_checked(spec):
    with pytest.raises(ConfigError, match="class_weight"):
        TaskSpec("emotion", **spec)


def test_trainer_fits_the_weights_on_training_rows_only(tmp_path):
    recipe = tiny_recipe(tmp_path, tasks=[{"name": "emotion", "kind": "classification", "column": "emotion",
                                           "class_weight": "balanced"},
                                          {"name": "gender", "kind": "classification", "column": "gender"}])
    prepared = prepare_corpus(recipe, progress=False)
    split = build_splits(recipe, prepared.table)[0]
    tasks = fit_tasks(recipe, prepared.table)
    trainer = SplitTrainer(SplitJob(recipe, tasks, prepared, split, recipe["weighting"], 0, tmp_path / "run"))
    assert set(trainer.class_weights) == {"emotion"}
    emotion = tasks[0]
    train_labels = emotion.encode(prepared.table)[split.train]
    torch.testing.assert_close(trainer.class_weights["emotion"],
                               balanced_class_weights(train_labels, len(emotion.classes)))
    # relabelling the test speaker's rows changes nothing: its labels never reach the weights
    prepared.table.loc[split.test, "emotion"] = emotion.classes[0]
    again = SplitTrainer(SplitJob(recipe, tasks, prepared, split, recipe["weighting"], 0, tmp_path / "run2"))
    torch.testing.assert_close(again.class_weights["emotion"], trainer.class_weights["emotion"])
