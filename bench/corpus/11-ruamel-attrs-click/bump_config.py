"""Bump version fields in YAML deployment files while keeping comments and key order."""

from pathlib import Path

import attr
import click
from ruamel.yaml import YAML


@attr.s(auto_attribs=True, frozen=True)
class Bump:
    key: str
    old: str
    new: str


def bump_file(path: Path, key: str, new: str, yaml: YAML) -> Bump | None:
    data = yaml.load(path)
    node = data
    *parents, leaf = key.split(".")
    for part in parents:
        node = node.get(part)
        if node is None:
            return None
    old = node.get(leaf)
    if old is None or old == new:
        return None
    node[leaf] = new
    yaml.dump(data, path)
    return Bump(key, str(old), new)


@click.command()
@click.argument("files", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--key", default="image.tag", show_default=True)
@click.option("--to", "new", required=True)
def main(files, key, new):
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    for path in files:
        change = bump_file(path, key, new, yaml)
        if change:
            click.echo(f"{path}: {change.key} {change.old} -> {change.new}")


if __name__ == "__main__":
    main()
