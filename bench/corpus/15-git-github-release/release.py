"""Tag the current commit and publish a GitHub release with the changelog section as notes."""

import os
import re
import sys
from pathlib import Path

import git
from github import Auth, Github
from packaging.version import Version

REPO_SLUG = os.environ.get("GITHUB_REPOSITORY", "example-lab/pipeline")


def changelog_section(version: Version, path: Path = Path("CHANGELOG.md")) -> str:
    text = path.read_text(encoding="utf-8")
    match = re.search(rf"^## \[?{re.escape(str(version))}\]?.*?$(.*?)(?=^## |\Z)", text, re.M | re.S)
    if not match:
        raise SystemExit(f"no changelog section for {version}")
    return match.group(1).strip()


def main(raw_version: str) -> None:
    version = Version(raw_version)
    repo = git.Repo(".", search_parent_directories=True)
    if repo.is_dirty(untracked_files=True):
        raise SystemExit("working tree is dirty")
    tag = repo.create_tag(f"v{version}", message=f"Release {version}")
    repo.remotes.origin.push(tag.path)

    gh = Github(auth=Auth.Token(os.environ["GITHUB_TOKEN"]))
    gh.get_repo(REPO_SLUG).create_git_release(
        tag=f"v{version}",
        name=f"v{version}",
        message=changelog_section(version),
        prerelease=version.is_prerelease,
    )
    print(f"released v{version} at {repo.head.commit.hexsha[:10]}")


if __name__ == "__main__":
    main(sys.argv[1])
