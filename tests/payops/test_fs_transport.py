"""The embedded broker writes each message whole, under a name the consumer cannot see early."""

from __future__ import annotations

from pathlib import Path

from kombu import Connection


def test_messages_round_trip_and_no_temp_files_are_left(tmp_path: Path) -> None:
    folder = tmp_path / "queue"
    folder.mkdir()
    options = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "control_folder": str(tmp_path / "control"),
        "store_processed": False,
    }
    with Connection("filesystem://", transport="payops.fs_transport:Transport", transport_options=options) as conn:
        queue = conn.SimpleQueue("payops-test")
        for n in range(50):
            queue.put({"n": n, "body": "x" * 1000})
        names = sorted(p.name for p in folder.iterdir())
        assert len(names) == 50
        assert all(name.endswith(".payops-test.msg") and not name.startswith(".") for name in names)
        received = []
        for _ in range(50):
            message = queue.get(timeout=1)
            received.append(message.payload["n"])
            message.ack()
        queue.close()
    assert received == list(range(50))
