"""Post a summary of failed jobs to the group Slack channel."""
import os
import subprocess

from dotenv import load_dotenv
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

load_dotenv(os.path.expanduser("~/.cluster-bot.env"))


def failed_jobs(hours=24):
    out = subprocess.run(
        ["sacct", "-X", "-n", "-P", "--state=FAILED,TIMEOUT,OUT_OF_MEMORY", f"--starttime=now-{hours}hours",
         "--format=JobID,User,JobName,State,Elapsed"],
        capture_output=True, text=True, check=True,
    ).stdout
    return [line.split("|") for line in out.splitlines() if line]


def main():
    jobs = failed_jobs()
    if not jobs:
        return
    lines = [f"`{j[0]}` {j[1]} {j[2]} *{j[3]}* after {j[4]}" for j in jobs[:40]]
    client = WebClient(token=os.environ["SLACK_BOT_TOKEN"])
    try:
        client.chat_postMessage(channel=os.environ.get("SLACK_CHANNEL", "#cluster"), text="\n".join(lines))
    except SlackApiError as exc:
        print("slack error:", exc.response["error"])


if __name__ == "__main__":
    main()
