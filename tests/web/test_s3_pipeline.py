"""Production storage: the same upload → portal path with STORAGE_URL=s3://… against a real S3
endpoint on loopback. Playlists are served by the portal (so relative URLs stay there); segments
and posters redirect to presigned S3 URLs, so the bytes never pass through Python."""
from __future__ import annotations

import re

import boto3
import m3u8
import pytest
import requests

from groundwork.config import load_settings
from tests.conftest import S3_ACCESS_KEY, S3_SECRET_KEY, login, run_worker_burst
from tests.media_helpers import make_video


@pytest.fixture
def s3_app(s3_endpoint, test_env, tmp_path, monkeypatch):
    monkeypatch.setenv("S3_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", S3_SECRET_KEY)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    boto3.client("s3", endpoint_url=s3_endpoint, aws_access_key_id=S3_ACCESS_KEY,
                 aws_secret_access_key=S3_SECRET_KEY, region_name="us-east-1").create_bucket(Bucket="diemcau-media")
    from web import create_app

    settings = load_settings({**test_env, "STORAGE_URL": "s3://diemcau-media/prod",
                              "DIEMCAU_DATA_DIR": str(tmp_path / "data"), "SECRET_KEY": "s3-test"})
    app = create_app(settings)
    app.config.update(TESTING=True)
    return app


def test_upload_to_portal_with_s3_storage(s3_app, make_user, tmp_path, s3_endpoint):
    client = s3_app.test_client()
    token = login(client, make_user("technician"))
    video = make_video(tmp_path / "v.mp4", duration=3.0, width=640, height=360)
    with open(video, "rb") as f:
        response = client.post("/panel/upload", data={"file": (f, "v.mp4"), "title": "Lưu trữ S3",
                                                      "csrf_token": token},
                               headers={"Accept": "application/json"})
    assert response.status_code == 201, response.get_json()
    rec_id = response.get_json()["id"]
    run_worker_burst(s3_app)
    status = client.get(f"/api/recordings/{rec_id}").get_json()
    assert status["event_status"] == "published", status

    objects = boto3.client("s3", endpoint_url=s3_endpoint, aws_access_key_id=S3_ACCESS_KEY,
                           aws_secret_access_key=S3_SECRET_KEY, region_name="us-east-1").list_objects_v2(
        Bucket="diemcau-media", Prefix=f"prod/recordings/{rec_id}/")
    keys = {o["Key"] for o in objects.get("Contents", [])}
    assert any(k.endswith("master.m3u8") for k in keys) and any(k.endswith(".m4s") for k in keys)

    viewer = s3_app.test_client()
    page = viewer.get(status["portal_url"]).get_data(as_text=True)
    src = re.search(r'data-src="([^"]+)"', page).group(1)
    master = m3u8.loads(viewer.get(src).get_data(as_text=True))
    variant_url = src.rsplit("/", 1)[0] + "/" + master.playlists[0].uri
    variant = m3u8.loads(viewer.get(variant_url).get_data(as_text=True))
    segment_url = variant_url.rsplit("/", 1)[0] + "/" + variant.segments[0].uri
    redirect = viewer.get(segment_url)
    assert redirect.status_code == 302 and redirect.headers["Location"].startswith(s3_endpoint)
    assert "X-Amz-Signature=" in redirect.headers["Location"]
    segment = requests.get(redirect.headers["Location"], timeout=10)
    assert segment.status_code == 200 and len(segment.content) > 1000
