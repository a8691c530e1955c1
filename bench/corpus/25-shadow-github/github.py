"""A tiny GitHub REST client (this file shadows the PyGithub distribution's `github`)."""

import os

import requests

API = "https://api.github.com"


class Client:
    def __init__(self, token=None):
        self.session = requests.Session()
        self.session.headers["Accept"] = "application/vnd.github+json"
        token = token or os.environ.get("GITHUB_TOKEN")
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def paged(self, path, **params):
        url, params = f"{API}{path}", {"per_page": 100, **params}
        while url:
            resp = self.session.get(url, params=params, timeout=30)
            resp.raise_for_status()
            yield from resp.json()
            url, params = resp.links.get("next", {}).get("url"), None
