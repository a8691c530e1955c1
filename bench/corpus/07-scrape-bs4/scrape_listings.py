"""Scrape a paginated listing site politely and write the results as JSON lines."""

import json
import time
from urllib.parse import urljoin

import requests
from bs4 import BeautifulSoup

BASE = "https://example.org/listings/"
HEADERS = {"User-Agent": "research-scraper/0.3 (contact: data@example.org)"}


def parse_page(html: str, base: str):
    soup = BeautifulSoup(html, "html.parser")
    for card in soup.select("article.listing"):
        title = card.select_one("h2").get_text(strip=True)
        price = card.select_one(".price")
        link = card.find("a", href=True)
        yield {
            "title": title,
            "price": float(price.get_text(strip=True).lstrip("$").replace(",", "")) if price else None,
            "url": urljoin(base, link["href"]) if link else None,
        }
    nxt = soup.find("a", rel="next")
    yield {"_next": urljoin(base, nxt["href"]) if nxt else None}


def crawl(start: str, out_path: str, delay: float = 1.0) -> int:
    session = requests.Session()
    session.headers.update(HEADERS)
    url, count = start, 0
    with open(out_path, "w", encoding="utf-8") as out:
        while url:
            resp = session.get(url, timeout=30)
            resp.raise_for_status()
            url = None
            for item in parse_page(resp.text, resp.url):
                if "_next" in item:
                    url = item["_next"]
                    continue
                out.write(json.dumps(item) + "\n")
                count += 1
            time.sleep(delay)
    return count


if __name__ == "__main__":
    print(crawl(BASE, "listings.jsonl"), "listings")
