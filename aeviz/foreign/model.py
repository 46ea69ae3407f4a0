"""A model trained elsewhere behind aeviz's model API: its encoder and decoder, and how to read their outputs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import torch
from torch import nn

from ..errors import one_line
from ..headers import CheckpointError
from .costs import call_sizes
from .interface import DECODER_KEY, ENCODER_KEY, Interface


class ModelFailed(CheckpointError):
    """An imported model that raised while running (a device mismatch, an op this machine lacks...)."""


def _padded(fn: Callable, x: torch.Tensor, sizes: tuple[int, ...] | None) -> Any:
    """fn(x), for a program called only with a batch size in `sizes` (None: any): run in chunks of at most the
    largest, each padded with zeros up to the next size (costs.call_sizes: the sizes whose cost was checked)."""
    if sizes is None or len(x) in sizes:
        return fn(x)
    outs: list[Any] = []
    for start in range(0, len(x), sizes[-1]):
        chunk = x[start : start + sizes[-1]]
        rows = len(chunk)
        size = next(s for s in sizes if s >= rows)
        if rows < size:
            chunk = torch.cat([chunk, chunk.new_zeros((size - rows, *chunk.shape[1:]))])
        out = fn(chunk)
        outs.append([o[:rows] for o in out] if isinstance(out, (tuple, list)) else out[:rows])
    if isinstance(outs[0], list):
        return tuple(torch.cat(parts) for parts in zip(*outs))
    return torch.cat(outs)


class ImportedModel(nn.Module):
    """encode (N,C,H,W) -> (N,q), decode (N,q) -> (N,C,H,W) in [0, 1], reconstruct; encode_stats for a VAE.

    Like a model aeviz trained, it is shared by every session: it is never changed after loading and keeps
    no state between calls. Anything the foreign code raises becomes a ModelFailed naming the model."""

    def __init__(
        self,
        name: str,
        family: str,
        interface: Interface,
        encoder: Callable[[torch.Tensor], Any],
        decoder: Callable[[torch.Tensor], Any],
    ) -> None:
        super().__init__()
        self.name, self.family, self.interface = name, family, interface
        self.encoder, self.decoder = encoder, decoder  # modules are registered, so .to() and .eval() reach them
        self.register_buffer("_anchor", torch.zeros(0), persistent=False)  # the device, when there are no weights
        self.metadata: dict[str, Any] = {}

    @property
    def bottleneck(self) -> int:
        return self.interface.bottleneck

    def _call(self, what: str, fn: Callable, x: torch.Tensor, batch: int | None) -> Any:
        # an adapter is the operator's own code, called as it is; a program only at the sizes its cost was checked at
        sizes = None if self.interface.source == "adapter" else call_sizes(batch)
        try:
            return _padded(fn, x, sizes)
        except Exception as exc:  # foreign code: anything, reported as this model's failure
            raise ModelFailed(f"{self.name}: its {what} failed on this server ({one_line(exc)})") from None

    def _encoder_outputs(self, x: torch.Tensor) -> Sequence[torch.Tensor]:
        low, high = self.interface.input_range
        out = self._call("encoder", self.encoder, low + (high - low) * x, self.interface.encoder_batch)
        return out if isinstance(out, (tuple, list)) else (out,)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self._encoder_outputs(x)[self.interface.code_output].flatten(1)  # (N, *code_shape) -> (N, q)

    def encode_stats(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A VAE's posterior mean and log-variance, (N,q) each."""
        if self.interface.log_variance_output is None:
            raise ModelFailed(f"{self.name}: its encoder has no log-variance output (not a VAE)")
        outs = self._encoder_outputs(x)
        mu, logvar = outs[self.interface.code_output], outs[self.interface.log_variance_output]
        return mu.flatten(1), logvar.flatten(1).clamp(-20.0, 10.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        z = z.reshape(len(z), *self.interface.decoder_input)  # (N,q) -> (N, *decoder_input)
        out = self._call("decoder", self.decoder, z, self.interface.decoder_batch)
        out = out[0] if isinstance(out, (tuple, list)) else out
        if self.interface.output == "logits":
            return torch.sigmoid(out)
        low, high = self.interface.output_range
        return (out - low) / (high - low)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def train(self, mode: bool = True) -> ImportedModel:
        """Only the flag: an exported program has no train/eval switch (its graph was captured in one mode)."""
        self.training = mode
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.reconstruct(x)


def program_bytes(state: dict[str, torch.Tensor], key: str) -> bytes:
    return state[key].contiguous().numpy().tobytes()


def from_state(name: str, state: dict[str, torch.Tensor], meta: dict[str, Any], device="cpu") -> ImportedModel:
    """The model a checkpoint of an imported model holds, checked by one run on two blank images. The programs
    are checked afresh (programs.load_program), and the batch sizes they are called with come from the programs
    themselves, never from the (editable) metadata."""
    from .programs import input_shape, load_program

    try:
        interface = Interface.from_dict(meta["interface"])
        if interface.source == "adapter":
            raise ValueError("an adapter model is never a checkpoint")
        programs = [load_program(program_bytes(state, k), k, device) for k in (ENCODER_KEY, DECODER_KEY)]
        batches = [input_shape(program)[0] for program in programs]
        interface = replace(interface, encoder_batch=batches[0], decoder_batch=batches[1])
        encoder, decoder = (program.module() for program in programs)
    except Exception as exc:  # foreign bytes: whatever fails, the model is unusable and says why
        raise CheckpointError(f"{name}: its imported programs cannot be used ({exc})") from None
    model = ImportedModel(name, meta["family"], interface, encoder, decoder).to(device)
    shape = meta["config"]["input_shape"]
    try:
        with torch.inference_mode():
            model.reconstruct(torch.zeros(2, *shape, device=device))  # ModelFailed names a program's failure
    except CheckpointError:
        raise
    except Exception as exc:  # metadata that does not fit its programs (an output index, a code shape)
        raise CheckpointError(f"{name}: its recorded interface does not fit its programs ({exc})") from None
    model.requires_grad_(False)
    return model.eval()
