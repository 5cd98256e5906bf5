"""Time of one training step for every weighting strategy, relative to ``static``, on one shared-trunk model.

    python benchmarks/weighting_overhead.py [--batch 16] [--steps 12] [--rounds 3]

The model is a small Conv1d + LSTM trunk on 128 x 256 log-mel-sized random input with three heads (emotion,
gender, arousal). Every strategy trains a copy of the same initial model on the same batches; strategies are
timed step by step in a rotating order and the median step time is reported. A step is the loop's whole protocol:
forward, strategy, backward, shared gradients, optimiser step. FAMO runs without ``after_step`` (no extra
forward). Prints a Markdown table.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import copy  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from emomtl.weighting import STRATEGIES, create  # noqa: E402

TASKS = {"emotion": 7, "gender": 2, "arousal": 1}
MELS, FRAMES = 128, 256


class SharedTrunkModel(nn.Module):
    """Conv1d front end and an LSTM over time, mean-pooled, then one linear head per task."""

    def __init__(self, hidden: int = 64) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv1d(MELS, hidden, kernel_size=5, stride=2, padding=2),
            nn.BatchNorm1d(hidden),
            nn.ReLU(),
            nn.Conv1d(hidden, hidden, kernel_size=5, stride=2, padding=2),
            nn.BatchNorm1d(hidden),
            nn.ReLU(),
        )
        self.lstm = nn.LSTM(hidden, hidden, batch_first=True)
        self.heads = nn.ModuleDict({task: nn.Linear(hidden, size) for task, size in TASKS.items()})

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.convs(x).transpose(1, 2)
        h, _ = self.lstm(h)
        pooled = h.mean(dim=1)
        return {task: head(pooled) for task, head in self.heads.items()}

    def shared_parameters(self):
        return [*self.convs.parameters(), *self.lstm.parameters()]


def make_batches(count: int, batch: int, seed: int = 0) -> list[tuple[torch.Tensor, dict[str, torch.Tensor]]]:
    generator = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(count):
        x = torch.randn(batch, MELS, FRAMES, generator=generator)
        targets = {
            "emotion": torch.randint(0, TASKS["emotion"], (batch,), generator=generator),
            "gender": torch.randint(0, TASKS["gender"], (batch,), generator=generator),
            "arousal": torch.rand(batch, generator=generator),
        }
        batches.append((x, targets))
    return batches


def task_losses(outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {
        "emotion": F.cross_entropy(outputs["emotion"], targets["emotion"]),
        "gender": F.cross_entropy(outputs["gender"], targets["gender"]),
        "arousal": F.mse_loss(outputs["arousal"].squeeze(-1), targets["arousal"]),
    }


class Runner:
    """One strategy with its own copy of the model and optimiser."""

    def __init__(self, name: str, initial: SharedTrunkModel) -> None:
        self.model = copy.deepcopy(initial)
        self.strategy = create(name, list(TASKS))
        self.optimiser = torch.optim.Adam([*self.model.parameters(), *self.strategy.parameters()], lr=1e-3)

    def step(self, x: torch.Tensor, targets: dict[str, torch.Tensor]) -> None:
        self.optimiser.zero_grad(set_to_none=True)
        losses = task_losses(self.model(x), targets)
        shared = self.model.shared_parameters()
        out = self.strategy(losses, shared_parameters=shared)
        out.loss.backward()
        if out.shared_gradients is not None:
            for p, g in zip(shared, out.shared_gradients):
                p.grad = g
        self.optimiser.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=16, help="timed steps per strategy and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()

    torch.manual_seed(0)
    initial = SharedTrunkModel()
    names = list(STRATEGIES)
    runners = {name: Runner(name, initial) for name in names}
    batches = make_batches(args.warmup + args.steps, args.batch)
    times: dict[str, list[float]] = {name: [] for name in names}

    for name, runner in runners.items():
        for x, targets in batches[: args.warmup]:
            runner.step(x, targets)
    started = time.perf_counter()
    for round_ in range(args.rounds):  # step-level interleaving in a rotating order: load drift hits all alike
        for i, (x, targets) in enumerate(batches[args.warmup :]):
            shift = (round_ + i) % len(names)
            for name in names[shift:] + names[:shift]:
                tick = time.perf_counter()
                runners[name].step(x, targets)
                times[name].append(time.perf_counter() - tick)
    wall = time.perf_counter() - started

    shared = sum(p.numel() for p in initial.shared_parameters())
    baseline = statistics.median(times["static"])
    print("# Weighting overhead: one training step relative to `static`\n")
    print(
        f"Model: Conv1d x2 + LSTM trunk ({shared:,} shared parameters), {len(TASKS)} heads; input "
        f"{args.batch} x {MELS} x {FRAMES}; torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{platform.processor() or platform.machine()}; median of {args.rounds} x {args.steps} steps.\n"
    )
    print("| strategy | kind | ms / step | relative to static |")
    print("| --- | --- | ---: | ---: |")
    for name in names:
        median = statistics.median(times[name])
        print(f"| {name} | {STRATEGIES[name].kind} | {1000 * median:.1f} | {median / baseline:.2f}x |")
    print(f"\nTimed wall time: {wall:.1f} s.")


if __name__ == "__main__":
    main()
