"""Copy a Google Sheet range into a BigQuery table using a service account."""

import os
import sys

import google.auth
from google.cloud import bigquery
from google.oauth2 import service_account
from googleapiclient.discovery import build

SCOPES = [
    "https://www.googleapis.com/auth/spreadsheets.readonly",
    "https://www.googleapis.com/auth/bigquery",
]


def credentials():
    key = os.environ.get("GOOGLE_SA_KEY")
    if key:
        return service_account.Credentials.from_service_account_file(key, scopes=SCOPES)
    creds, _ = google.auth.default(scopes=SCOPES)
    return creds


def read_sheet(creds, sheet_id: str, rng: str) -> list[dict]:
    sheets = build("sheets", "v4", credentials=creds, cache_discovery=False)
    values = sheets.spreadsheets().values().get(spreadsheetId=sheet_id, range=rng).execute()["values"]
    header, *rows = values
    return [dict(zip(header, row)) for row in rows]


def main(sheet_id: str, rng: str, table: str) -> None:
    creds = credentials()
    rows = read_sheet(creds, sheet_id, rng)
    client = bigquery.Client(credentials=creds, project=creds.project_id)
    job = client.load_table_from_json(
        rows,
        table,
        job_config=bigquery.LoadJobConfig(autodetect=True, write_disposition="WRITE_TRUNCATE"),
    )
    job.result()
    print(f"loaded {len(rows)} rows into {table}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
