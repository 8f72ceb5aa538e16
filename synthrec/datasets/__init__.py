"""The data stage: real interaction logs -> one clean, cached, split form."""

from synthrec.datasets.config import ColumnMap, DataConfig, TableConfig
from synthrec.datasets.prepare import load_prepared, prepare_dataset
from synthrec.datasets.prepared import PreparedData
from synthrec.datasets.registry import SOURCES, get_source

__all__ = [
    "SOURCES",
    "ColumnMap",
    "DataConfig",
    "PreparedData",
    "TableConfig",
    "get_source",
    "load_prepared",
    "prepare_dataset",
]
