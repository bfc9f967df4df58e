"""The extension module (crates/crn-py/src): samples cross as planar native-endian float32
bytes, channel after channel. Use the package's API (crn_denoise), which checks arrays."""

import os
from typing import Dict, List, Optional, Tuple, Union

PathLike = Union[str, "os.PathLike[str]"]

DEFAULTS: Dict[str, Union[float, bool, Tuple[float, float], Tuple[int, int]]]

def use_runtime_library(path: str) -> bool: ...
def latency(sample_rate: int) -> int: ...
class Settings:
    """Checked against the ranges on construction (ValueError)."""

    def __init__(self, mix: float, atten_limit_db: float, gain_db: float, link: bool) -> None: ...

def render(
    data: bytes, channels: int, sample_rate: int, settings: Settings, output: str, model: Optional[str] = None
) -> Tuple[Optional[bytes], Optional[bytes]]: ...
def denoise_file(
    src: str,
    dst: Optional[str],
    out_dir: Optional[str],
    settings: Settings,
    output: str,
    format: Optional[str] = None,
    force: bool = False,
    model: Optional[str] = None,
) -> Tuple[PathLike, float, List[str]]: ...
def plan_inputs(paths: List[str], out_dir: str, output: str, format: Optional[str] = None) -> Tuple[List[str], List[Tuple[str, str]]]: ...

class Stream:
    def __init__(
        self, sample_rate: int, channels: int, settings: Settings, output: str, model: Optional[str] = None
    ) -> None: ...
    @property
    def latency(self) -> int: ...
    def process(self, data: bytes) -> Tuple[Optional[bytes], Optional[bytes]]: ...
    def flush(self) -> Tuple[Optional[bytes], Optional[bytes]]: ...
    def reset(self) -> None: ...
    def set(self, settings: Settings) -> None: ...
