"""A real S3 API on loopback for the clip tests: moto's server, one per test session
(per xdist worker), a fresh bucket per test.

The server runs in a thread of the test process, over real HTTP: boto3 signs and sends
every request as it would to AWS. Sharing the process also means sharing its clock, which
is the only way to give an object an old Last-Modified (S3 has no utime): `backdate`
rewrites the object while the clock is set back.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime

import boto3
import time_machine
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from camcare.settings import s3_clip_storage

REGION = "us-east-1"
KEYS = {"aws_access_key_id": "camcare-test", "aws_secret_access_key": "camcare-test-secret"}


class S3Server:
    def __init__(self):
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        self.client = boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION, **KEYS)

    def stop(self) -> None:
        self._server.stop()

    def new_bucket(self) -> str:
        name = f"camcare-clips-{secrets.token_hex(6)}"
        self.client.create_bucket(Bucket=name)
        return name

    def drop_bucket(self, name: str) -> None:
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=name):
            for entry in page.get("Contents", []):
                self.client.delete_object(Bucket=name, Key=entry["Key"])
        self.client.delete_bucket(Bucket=name)

    def storage_config(self, bucket: str) -> dict:
        """STORAGES["default"] as production builds it from CAMCARE_S3_* (settings.py)."""
        return s3_clip_storage({
            "CAMCARE_S3_BUCKET": bucket,
            "CAMCARE_S3_ENDPOINT_URL": self.endpoint,
            "CAMCARE_S3_REGION": REGION,
            "CAMCARE_S3_ACCESS_KEY_ID": KEYS["aws_access_key_id"],
            "CAMCARE_S3_SECRET_ACCESS_KEY": KEYS["aws_secret_access_key"],
        })


def backdate(store, name: str, when: datetime) -> None:
    """Give the object `name` of S3Storage `store` the Last-Modified `when`."""
    stored = store.bucket.Object(name)
    content = stored.get()["Body"].read()
    with time_machine.travel(when, tick=False):
        stored.put(Body=content)
