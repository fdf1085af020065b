"""The demo clips of `make run`: small real MP4s spread over the last 30 days."""

from datetime import timedelta

from camcare.cameras.clipstore import sniff_video
from camcare.cameras.demo import add_demo_clips, demo_files
from tests.cameras.conftest import NOW, media_files


def test_it_ships_a_few_small_real_mp4_files():
    files = demo_files()
    assert len(files) >= 5
    for path in files:
        data = path.read_bytes()
        assert sniff_video(data[:64]) == "video/mp4", path
        assert b"avc1" in data  # H.264, which browsers play
        assert len(data) < 20_000, path


def test_it_adds_demo_clips_spread_over_the_last_30_days(porch, now):
    clips = add_demo_clips(porch.camera, NOW, 12)
    assert len(clips) == 12
    times = sorted(clip.recorded_at for clip in clips)
    assert NOW - timedelta(days=30) <= times[0] < NOW - timedelta(days=29)
    assert NOW - timedelta(hours=2) < times[-1] < NOW
    assert len(media_files()) == 12
    for clip in clips:
        with clip.file.open("rb") as stored:
            assert stored.read() == demo_files()[clips.index(clip) % len(demo_files())].read_bytes()
