"""CIFAR-10 tasks in the style of airbench: network, augmentation, optimisation, training."""

from actbench.tasks.airbench.task import TASKS

__all__ = ["TASKS"]
