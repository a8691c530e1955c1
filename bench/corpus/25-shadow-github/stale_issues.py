"""List issues without activity for N days across an organisation's repositories."""

import argparse
from datetime import datetime, timedelta, timezone

import github
from github import Client


def stale(client: Client, org: str, days: int):
    cutoff = datetime.now(timezone.utc) - timedelta(days=days)
    for repo in client.paged(f"/orgs/{org}/repos", type="sources"):
        for issue in client.paged(f"/repos/{org}/{repo['name']}/issues", state="open"):
            updated = datetime.fromisoformat(issue["updated_at"].replace("Z", "+00:00"))
            if updated < cutoff and "pull_request" not in issue:
                yield repo["name"], issue["number"], issue["title"], updated.date()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("org")
    ap.add_argument("--days", type=int, default=180)
    args = ap.parse_args()
    print(f"using {github.API}")
    for repo, number, title, updated in stale(Client(), args.org, args.days):
        print(f"{repo}#{number:<6} {updated}  {title}")


if __name__ == "__main__":
    main()
