"""How aeviz calls a model trained elsewhere: the interface found when it was imported, stored in its checkpoint."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

OUTPUT_KINDS = ("image", "logits")  # image: values in output_range; logits: a sigmoid gives [0, 1]
SOURCES = ("torch.export", "pythae", "adapter")


ENCODER_KEY, DECODER_KEY = "encoder.pt2", "decoder.pt2"  # an imported checkpoint's two tensors: program bytes


@dataclass(frozen=True)
class Interface:
    """How aeviz calls a foreign encoder and decoder, as found when the model was imported."""

    source: str = "torch.export"  # one of SOURCES
    code_output: int = 0  # which of the encoder's outputs is the code (a VAE's mean), when it returns several
    log_variance_output: int | None = None  # a VAE's log-variance output
    input_range: tuple[float, float] = (0.0, 1.0)  # what the encoder expects the pixels of [0, 1] mapped to
    output: str = "image"  # one of OUTPUT_KINDS
    output_range: tuple[float, float] = (0.0, 1.0)  # an 'image' decoder's range, mapped back to [0, 1]
    code_shape: tuple[int, ...] = ()  # one code as the encoder returns it, e.g. (8,) or (8, 1, 1)
    decoder_input: tuple[int, ...] = ()  # one code as the decoder takes it (the same number of values)
    encoder_batch: int | None = None  # a program exported for a fixed batch size: batches are padded to it
    decoder_batch: int | None = None

    def __post_init__(self) -> None:
        if self.source not in SOURCES or self.output not in OUTPUT_KINDS:
            raise ValueError(f"source must be one of {SOURCES} and output one of {OUTPUT_KINDS}")
        sizes = (*self.code_shape, *self.decoder_input)
        if not self.code_shape or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in sizes):
            raise ValueError("code_shape and decoder_input must be positive whole numbers")
        if math.prod(self.code_shape) != math.prod(self.decoder_input):
            raise ValueError("code_shape and decoder_input must hold the same number of values")
        for batch in (self.encoder_batch, self.decoder_batch, self.code_output, self.log_variance_output):
            if batch is not None and not (isinstance(batch, int) and not isinstance(batch, bool) and batch >= 0):
                raise ValueError("batch sizes and output indices must be whole numbers")
        for name in ("input_range", "output_range"):
            low, high = getattr(self, name)
            if not low < high:
                raise ValueError(f"{name} must be [low, high] with low < high, not {[low, high]}")

    @property
    def bottleneck(self) -> int:
        return math.prod(self.code_shape)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Interface:
        known = {f: values[f] for f in cls.__dataclass_fields__ if f in values}
        for name in ("input_range", "output_range", "code_shape", "decoder_input"):
            if name in known:
                known[name] = tuple(known[name])
        return cls(**known)
