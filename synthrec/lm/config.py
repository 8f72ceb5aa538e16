"""Config of continual pre-training: model sizes, optimisation, one trial.

`TrialConfig` is the contract between the sweep (Ray Tune) and the training
engine: everything one CPT run needs, as plain data that crosses process
boundaries and is converted back with `from_dict` inside the worker.
"""

from dataclasses import dataclass, field
from typing import Literal

from synthrec.configtools import require
from synthrec.tracking.config import TrackingConfig

MODALITIES = ("item_text", "cf", "uih")


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
    # Share the input embedding with the output layer (as Qwen3-0.6B does).
    tie_word_embeddings: bool = True
    # A Hugging Face checkpoint (local path or hub name); overrides the shape.
    pretrained: str | None = None

    def validate(self) -> None:
        for name in (
            "hidden_size",
            "num_layers",
            "num_heads",
            "num_kv_heads",
            "head_dim",
            "intermediate_size",
        ):
            value = getattr(self, name)
            require(value >= 1, f"model.{name}", value, "use a positive integer")
        require(
            self.num_heads % self.num_kv_heads == 0,
            "model.num_heads",
            self.num_heads,
            "must be a multiple of model.num_kv_heads",
        )
        require(
            self.head_dim % 2 == 0,
            "model.head_dim",
            self.head_dim,
            "rotary embeddings need an even head_dim",
        )


@dataclass
class LMConfig:
    max_seq_len: int = 128
    # Global batch in sequences per optimiser step (all workers, all micro-steps).
    batch_size: int = 16
    # Sequences per worker per forward pass; None: batch_size / num_workers
    # (no accumulation). Gradient accumulation steps follow from the two.
    micro_batch_size: int | None = None
    learning_rate: float = 3e-3
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.1
    adam_beta1: float = 0.9
    adam_beta2: float = 0.95
    schedule: Literal["cosine", "wsd", "constant"] = "cosine"
    warmup_tokens: int = 20000
    # WSD: the last `cooldown_fraction` of the run (and of each branch) decays.
    cooldown_fraction: float = 0.2
    # WSD: branch a cooldown from the stable trunk at these token counts; each
    # branch's final loss is one annealed L(D) point (kind "cooldown").
    cooldown_at_tokens: list[int] = field(default_factory=list)
    grad_clip: float = 1.0
    # Evaluate every held-out set at first_eval_tokens, then at each doubling.
    first_eval_tokens: int = 16384
    max_eval_tokens_per_set: int = 8192
    log_every_steps: int = 10
    # 0: no checkpoints. Otherwise save model, optimiser, data position and RNG.
    checkpoint_every_tokens: int = 0
    # Tokenizer for from-scratch models: one word per pre-token, or BPE.
    tokenizer: Literal["word", "bpe"] = "word"
    bpe_vocab_size: int = 4096
    # Word-level: keep the most frequent words up to this many ids in all
    # (specials and SID tokens always kept); rarer words read as [UNK].
    max_vocab_size: int | None = None
    backend: Literal["auto", "local", "ray_train"] = "auto"
    # "auto": DeepSpeed ZeRO (zero_stage) on GPU, plain DDP on CPU.
    strategy: Literal["auto", "ddp", "deepspeed"] = "auto"
    zero_stage: int = 2
    num_workers: int = 1
    use_gpu: bool = False
    # Intra-op CPU threads per worker; 1 is fastest on a shared 2-core machine
    # (measured: 2 threads under load ran 5-15x slower). 0: PyTorch's default.
    torch_threads: int = 1
    # Ray Train only: restarts of the worker group after a failure.
    max_failures: int = 0
    # Testing only: rank `fault_rank` kills its own process (SIGKILL) once,
    # right after step `fault_at_step`, so resume-from-checkpoint is exercised.
    fault_at_step: int | None = None
    fault_rank: int = 0

    def validate(self) -> None:
        require(
            self.max_seq_len >= 8, "lm.max_seq_len", self.max_seq_len, "use 8 or more"
        )
        require(
            self.batch_size >= 1,
            "lm.batch_size",
            self.batch_size,
            "use a positive number of sequences",
        )
        require(
            self.zero_stage in (0, 1, 2, 3),
            "lm.zero_stage",
            self.zero_stage,
            "use 0, 1, 2 or 3",
        )
        require(
            self.num_workers >= 1, "lm.num_workers", self.num_workers, "use 1 or more"
        )
        require(
            self.learning_rate > 0,
            "lm.learning_rate",
            self.learning_rate,
            "use a positive learning rate",
        )
        require(
            0 <= self.min_lr_ratio <= 1,
            "lm.min_lr_ratio",
            self.min_lr_ratio,
            "use a ratio in [0, 1]",
        )
        require(
            0 < self.cooldown_fraction < 1,
            "lm.cooldown_fraction",
            self.cooldown_fraction,
            "use a fraction in (0, 1)",
        )
        require(
            self.first_eval_tokens >= 1,
            "lm.first_eval_tokens",
            self.first_eval_tokens,
            "use a positive token count",
        )
        require(
            self.max_eval_tokens_per_set >= self.max_seq_len,
            "lm.max_eval_tokens_per_set",
            self.max_eval_tokens_per_set,
            "use at least lm.max_seq_len tokens",
        )
        require(
            self.checkpoint_every_tokens >= 0,
            "lm.checkpoint_every_tokens",
            self.checkpoint_every_tokens,
            "use 0 (off) or a positive count",
        )
        require(
            not self.cooldown_at_tokens or self.schedule == "wsd",
            "lm.cooldown_at_tokens",
            self.cooldown_at_tokens,
            "cooldown branches need lm.schedule='wsd'",
        )
        self._validate_batch()

    def _validate_batch(self) -> None:
        micro = self.micro_batch_size
        if micro is None:
            require(
                self.batch_size % self.num_workers == 0,
                "lm.batch_size",
                self.batch_size,
                "must be a multiple of lm.num_workers",
            )
            return
        require(micro >= 1, "lm.micro_batch_size", micro, "use 1 or more")
        require(
            self.batch_size % (micro * self.num_workers) == 0,
            "lm.batch_size",
            self.batch_size,
            "must be a multiple of lm.micro_batch_size * lm.num_workers",
        )

    def micro_batch(self, world_size: int) -> int:
        return self.micro_batch_size or self.batch_size // world_size

    def grad_accum_steps(self, world_size: int) -> int:
        return self.batch_size // (self.micro_batch(world_size) * world_size)

    @property
    def resolved_strategy(self) -> str:
        if self.strategy == "auto":
            return "deepspeed" if self.use_gpu else "ddp"
        return self.strategy

    @property
    def tokens_per_step(self) -> int:
        return self.batch_size * self.max_seq_len


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

    def validate(self) -> None:
        require(
            self.num_tokens >= self.lm.tokens_per_step,
            "num_tokens",
            self.num_tokens,
            f"train at least one step ({self.lm.tokens_per_step} tokens)",
        )
        require(
            bool(self.mixture) and sum(self.mixture.values()) > 0,
            "mixture",
            self.mixture,
            "give at least one modality a positive share",
        )
        require(
            all(v >= 0 for v in self.mixture.values()),
            "mixture",
            self.mixture,
            "shares must be >= 0",
        )
        require(self.seed >= 0, "seed", self.seed, "use a non-negative integer")
