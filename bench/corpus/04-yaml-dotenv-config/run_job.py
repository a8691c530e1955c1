"""Load a YAML job description, expand ${VARS} from a .env file, and schedule the runs."""

import os
import string
import sys
from datetime import timedelta
from pathlib import Path

import yaml
from dateutil import rrule
from dateutil.parser import isoparse
from dotenv import load_dotenv


def load_job(path: Path) -> dict:
    load_dotenv(path.with_name(".env"))
    text = string.Template(path.read_text()).safe_substitute(os.environ)
    job = yaml.safe_load(text)
    job.setdefault("every_hours", 24)
    return job


def schedule(job: dict):
    start = isoparse(job["start"])
    until = start + timedelta(days=job.get("days", 7))
    return list(rrule.rrule(rrule.HOURLY, interval=job["every_hours"], dtstart=start, until=until))


def main():
    job = load_job(Path(sys.argv[1]))
    for when in schedule(job):
        print(f"{when:%Y-%m-%d %H:%M}  {job['name']}  {job['command']}")
    out = Path(job.get("output", "schedule.yaml"))
    out.write_text(yaml.safe_dump({"job": job["name"], "runs": [w.isoformat() for w in schedule(job)]}))


if __name__ == "__main__":
    main()
