"""The one YAML reader of params.yaml, dvc.yaml, dvc.lock and ``-S`` values: YAML 1.2, as DVC reads them.

DVC reads and writes these files with ruamel.yaml (YAML 1.2), in which ``1e-05`` is a float. PyYAML follows
YAML 1.1, where a float needs a dot and ``1e-05`` is the *string* "1e-05": ``dvc exp run -S
train.weight_decay=1e-5`` writes ``weight_decay: 1e-05``, DVC shows it as a number, and the strict schema refused
it ("must be a number, got '1e-05'"). Reading with DVC's parser means a value is what ``dvc params diff`` shows
(``yes`` is the string "yes" to both).
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml import YAMLError as YAMLError


def load_yaml(text: str) -> Any:
    """``text`` parsed as YAML 1.2 into plain dicts, lists and scalars; raises :class:`YAMLError` if malformed."""
    return YAML(typ="safe").load(text)
