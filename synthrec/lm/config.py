"""Config of continual pre-training: model sizes, optimisation, one trial.

`TrialConfig` is the contract between the sweep (Ray Tune) and the training
engine: everything one CPT run needs, as plain data that crosses process
boundaries and is converted back with `from_dict` inside the worker.
"""

from dataclasses import dataclass, field
from typing import Literal

from synthrec.configtools import require
from synthrec.tracking.config import TrackingConfig


@dataclass
class ModelSizeConfig:
    """A Qwen3-architecture model built from depth and width, or a checkpoint."""

    name: str = "tiny"
    hidden_size: int = 32
    num_layers: int = 1
    num_heads: int = 2
    num_kv_heads: int = 1
    head_dim: int = 16
    intermediate_size: int = 64
    # A Hugging Face checkpoint (local path or hub name); overrides the shape.
    pretrained: str | None = None

    def validate(self) -> None:
        require(self.num_heads % self.num_kv_heads == 0, "model.num_heads",
                self.num_heads, "must be a multiple of model.num_kv_heads")


@dataclass
class LMConfig:
    max_seq_len: int = 128
    batch_size: int = 16
    learning_rate: float = 3e-3
    weight_decay: float = 0.1
    schedule: Literal["cosine", "wsd", "constant"] = "cosine"
    warmup_tokens: int = 20000
    grad_clip: float = 1.0
    # Evaluate every held-out set at first_eval_tokens, then at each doubling.
    first_eval_tokens: int = 16384
    max_eval_tokens_per_set: int = 8192
    backend: Literal["auto", "local", "ray_train"] = "auto"
    strategy: Literal["ddp", "deepspeed"] = "ddp"
    zero_stage: int = 2
    num_workers: int = 1
    use_gpu: bool = False

    def validate(self) -> None:
        require(self.max_seq_len >= 8, "lm.max_seq_len", self.max_seq_len, "use 8 or more")
        require(self.zero_stage in (0, 1, 2, 3), "lm.zero_stage", self.zero_stage,
                "use 0, 1, 2 or 3")


@dataclass
class TrialConfig:
    model: ModelSizeConfig
    lm: LMConfig
    num_tokens: int
    # modality -> share of training tokens, e.g. {"item_text": 0.2, "cf": 0.3, "uih": 0.5}
    mixture: dict[str, float]
    seed: int
    corpus_dir: str
    tokenizer_dir: str
    out_dir: str
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    parent_run_id: str | None = None
    run_name: str = "trial"
