"""Imports names that files next to it shadow: ``yaml`` and ``json`` are local here."""

from __future__ import annotations

import json
import os

import yaml

print(yaml.NAME, json.NAME, os.sep)
