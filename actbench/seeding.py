"""Seeds for the paired design.

One trial seed is expanded into independent random streams (initialisation, data order,
activation modules, data augmentation). Every engine and every activation draws from the
same streams, so two trials with the same seed start from the same weights and see the
same batches, whatever their activation: differences between activations are not differences of luck.
"""

import numpy as np
import torch

# Stream ids are part of the experiment's definition: changing one changes every result.
STREAMS = {"init": 0, "data_order": 1, "activation": 2, "augment": 3, "validation_split": 4, "dropout": 5}


def stream_seed(seed: int, stream: str) -> int:
    """A 63-bit seed for one named stream of a trial seed (numpy's SeedSequence mixing)."""
    state = np.random.SeedSequence([seed, STREAMS[stream]]).generate_state(2, dtype=np.uint32)
    return int(state[0]) << 31 | int(state[1]) >> 1


def generator(seed: int, stream: str) -> torch.Generator:
    """A CPU generator for one stream; CPU so that the numbers do not depend on the device."""
    return torch.Generator().manual_seed(stream_seed(seed, stream))
