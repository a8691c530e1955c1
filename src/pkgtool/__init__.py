"""pkgtool: ship a Python script's environment to batch-cluster worker nodes.

The three components are :mod:`pkgtool.analyzer` (script -> spec),
:mod:`pkgtool.builder` (spec -> lock -> prefix -> archive) and :mod:`pkgtool.runner`
(archive -> ready prefix -> exec). :mod:`pkgtool.cli` is the only module that prints.
This module stays this small: ``pkg run`` imports it on every start.
"""

__version__ = "0.1.0"
