"""Upload a run's result files to Azure Blob Storage using the managed identity of the node."""

import mimetypes
import os
import sys
from pathlib import Path

from azure.core.exceptions import ResourceExistsError
from azure.identity import DefaultAzureCredential
from azure.storage.blob import BlobServiceClient, ContentSettings

ACCOUNT_URL = os.environ.get("RESULTS_ACCOUNT_URL", "https://labresults.blob.core.windows.net")
CONTAINER = os.environ.get("RESULTS_CONTAINER", "runs")


def upload_tree(run_dir: Path, run_id: str) -> int:
    service = BlobServiceClient(ACCOUNT_URL, credential=DefaultAzureCredential())
    container = service.get_container_client(CONTAINER)
    try:
        container.create_container()
    except ResourceExistsError:
        pass
    count = 0
    for path in sorted(run_dir.rglob("*")):
        if not path.is_file():
            continue
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        with path.open("rb") as fh:
            container.upload_blob(
                name=f"{run_id}/{path.relative_to(run_dir).as_posix()}",
                data=fh,
                overwrite=True,
                content_settings=ContentSettings(content_type=ctype),
            )
        count += 1
    return count


if __name__ == "__main__":
    run_dir = Path(sys.argv[1])
    print(upload_tree(run_dir, sys.argv[2] if len(sys.argv) > 2 else run_dir.name), "files uploaded")
