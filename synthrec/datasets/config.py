"""Config of the data stage: which interaction log, how it is cleaned and split."""

from dataclasses import dataclass
from typing import Literal

from synthrec.configtools import require


@dataclass
class DataConfig:
    # Registry name of the source (see synthrec.datasets.registry).
    dataset: str = "ml-latest-small"
    # Folder holding the source files; None looks in $SYNTHREC_DATA_HOME/<dataset>/,
    # then downloads the official archive into that cache.
    path: str | None = None
    # Implicit-feedback rule: keep ratings >= this; None keeps every rating.
    min_rating: float | None = None
    # Iterative k-core filter, repeated until stable.
    min_user_interactions: int = 5
    min_item_interactions: int = 1
    split: Literal["leave_one_out", "temporal"] = "leave_one_out"
    # Keep a seeded random subset of users (smoke runs); None keeps all.
    max_users: int | None = None

    def validate(self) -> None:
        require(self.min_user_interactions >= 3, "data.min_user_interactions",
                self.min_user_interactions, "leave-one-out needs at least 3 per user")
        require(self.min_item_interactions >= 1, "data.min_item_interactions",
                self.min_item_interactions, "use 1 or more")
        require(self.max_users is None or self.max_users > 0, "data.max_users",
                self.max_users, "use a positive number or null")
