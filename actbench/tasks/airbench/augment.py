"""CIFAR-10 on the training device: normalisation, batch augmentation, test-time augmentation.

The dataset stays on the device as one uint8 tensor (N, 3, 32, 32); each trial normalises
it once into its compute dtype. Augmentation acts on whole tensors on the device:

- before the first epoch, once: a random half of the images is flipped ("pre-flip") and
  every image is reflect-padded by the translate amount;
- every epoch: each image is cropped back to 32 x 32 at independent x and y shifts in
  [-r, r]; on odd epochs (counting from 0) every image is mirrored relative to its
  pre-flipped self, so over two epochs each image is seen both ways (alternating flip);
  optionally a square is cut out (set to 0 after normalisation, i.e. to the mean colour).

The random numbers come from the trial's CPU "augment" generator and are moved to the
device, so a seed gives the same augmentation on every device and for every activation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)


def normalise(images: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """uint8 (N, 3, H, W) -> ``dtype``, per-channel standardised with the CIFAR-10 statistics."""
    mean = torch.tensor(CIFAR_MEAN, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR_STD, device=images.device).view(1, 3, 1, 1)
    return ((images.float() / 255 - mean) / std).to(dtype)


def flip_some(images: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Mirror (left-right) a random half of the images: each with probability 1/2."""
    flip = (torch.rand(len(images), generator=gen) < 0.5).to(images.device).view(-1, 1, 1, 1)
    return torch.where(flip, images.flip(-1), images)


def random_crop(padded: torch.Tensor, size: int, gen: torch.Generator) -> torch.Tensor:
    """Crop (N, C, size + 2r, size + 2r) -> (N, C, size, size) at a random offset per image
    and axis, uniform over 0..2r (a translation by -r..r); two gathers, no Python loop."""
    n, c, h, w = padded.shape
    r = (h - size) // 2
    offsets = torch.randint(0, 2 * r + 1, (n, 2), generator=gen).to(padded.device)  # (N, 2): y, x
    span = torch.arange(size, device=padded.device)
    rows = (offsets[:, 0:1] + span).view(n, 1, size, 1).expand(n, c, size, w)
    cols = (offsets[:, 1:2] + span).view(n, 1, 1, size).expand(n, c, size, size)
    return padded.gather(2, rows).gather(3, cols)


def cutout(images: torch.Tensor, size: int, gen: torch.Generator) -> torch.Tensor:
    """Zero one size x size square per image, its corner uniform over the positions where it fits."""
    n, _, h, w = images.shape
    corner_y = torch.randint(0, h - size + 1, (n,), generator=gen).to(images.device).view(n, 1, 1, 1)
    corner_x = torch.randint(0, w - size + 1, (n,), generator=gen).to(images.device).view(n, 1, 1, 1)
    dy = torch.arange(h, device=images.device).view(1, 1, h, 1) - corner_y
    dx = torch.arange(w, device=images.device).view(1, 1, 1, w) - corner_x
    inside = (dy >= 0) & (dy < size) & (dx >= 0) & (dx < size)  # (N, 1, H, W)
    return images.masked_fill(inside, 0)


class TrainBatches:
    """The training set of one trial: pre-flipped and padded once, then one augmented,
    shuffled pass per call of ``epoch`` in batches of ``batch_size`` (the last partial
    batch dropped, as in the recipe: 48 steps of 1024 from 50,000 images)."""

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        *,
        dtype: torch.dtype,
        batch_size: int,
        translate: int,
        cutout_size: int,
        augment_gen: torch.Generator,
        order_gen: torch.Generator,
    ):
        self.labels = labels  # (N,) int64 on the device
        self.size = images.shape[-1]
        self.batch_size = batch_size
        self.cutout_size = cutout_size
        self.augment_gen = augment_gen
        self.order_gen = order_gen
        flipped = flip_some(normalise(images, dtype), augment_gen)  # (N, 3, 32, 32)
        self.padded = F.pad(flipped, (translate,) * 4, mode="reflect") if translate else flipped

    def state_dict(self) -> dict[str, torch.Tensor]:
        """What a checkpoint needs to go on at the next epoch: both generators' states
        (the pre-flipped, padded images are remade from the seed's generator)."""
        return {"augment": self.augment_gen.get_state(), "order": self.order_gen.get_state()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Resume where ``state_dict`` was taken: call on batches built afresh from the same seed."""
        self.augment_gen.set_state(state["augment"])
        self.order_gen.set_state(state["order"])

    @property
    def steps_per_epoch(self) -> int:
        return len(self.labels) // self.batch_size

    def augmented(self, epoch: int) -> torch.Tensor:
        """All N training images as seen in ``epoch`` (from 0): (N, 3, 32, 32)."""
        images = (
            random_crop(self.padded, self.size, self.augment_gen) if self.padded.shape[-1] > self.size else self.padded
        )
        if epoch % 2 == 1:
            images = images.flip(-1)
        if self.cutout_size:
            images = cutout(images, self.cutout_size, self.augment_gen)
        return images

    def epoch(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(inputs (B, 3, 32, 32), labels (B,)) for every full batch of ``epoch``."""
        images = self.augmented(epoch)
        order = torch.randperm(len(images), generator=self.order_gen).to(images.device)
        for step in range(self.steps_per_epoch):
            idx = order[step * self.batch_size : (step + 1) * self.batch_size]
            yield images.index_select(0, idx), self.labels.index_select(0, idx)


# Test-time augmentation: the views of an image and the weight of each in the averaged
# logits. Level 2 averages the mirror pair of the image (1/4 each) with the mirror pairs
# of the image translated one pixel up-left and one pixel down-right (1/8 each). The
# levels a task accepts are declared in recipe.py (TTA_LEVELS).


def tta_logits(net: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor, level: int) -> torch.Tensor:
    """Logits of ``net`` on (B, 3, H, W), averaged over the views of TTA ``level``: (B, classes)."""

    def with_mirror(x: torch.Tensor) -> torch.Tensor:
        return 0.5 * net(x) + 0.5 * net(x.flip(-1))

    if level == 0:
        return net(images)
    if level == 1:
        return with_mirror(images)
    h, w = images.shape[-2:]
    padded = F.pad(images, (1, 1, 1, 1), mode="reflect")
    up_left, down_right = padded[..., :h, :w], padded[..., 2:, 2:]
    translated = 0.5 * with_mirror(up_left) + 0.5 * with_mirror(down_right)
    return 0.5 * with_mirror(images) + 0.5 * translated
