"""The one YAML reader of params.yaml, dvc.yaml, dvc.lock and ``-S`` values: YAML 1.2, as DVC reads them.

DVC reads and writes these files with ruamel.yaml (YAML 1.2), in which ``1e-5`` is a float. PyYAML follows
YAML 1.1, where a float needs a dot and ``1e-5`` is the *string* "1e-5": ``dvc exp run -S
train.weight_decay=1e-5`` wrote ``weight_decay: 1e-5``, DVC showed it as a number, and the strict schema refused
it ("must be a number, got '1e-5'"). Reading with DVC's parser means a value is what ``dvc params diff`` shows
(``yes`` is the string "yes" to both). ``pure=True``: ruamel's C loader keeps YAML 1.1's rules.
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml import YAMLError as YAMLError


def load_yaml(text: str) -> Any:
    """``text`` parsed as YAML 1.2 into plain dicts, lists and scalars; raises :class:`YAMLError` if malformed."""
    return YAML(typ="safe", pure=True).load(text)
