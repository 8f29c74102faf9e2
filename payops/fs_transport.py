"""kombu's filesystem transport with atomic message writes.

The stock transport creates the message file and then writes it; a consumer
polling the folder can read it empty and the worker dies on a JSONDecodeError
(reproduced in shared/reference/console-and-queue.md). Writing to a hidden temp
name and renaming it into place makes each message appear whole or not at all.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic_ns
from typing import Any

from kombu.transport import filesystem


class Channel(filesystem.Channel):
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        # The stock name shape, with a zero-padded nanosecond clock so the
        # consumer's sorted listing is first in, first out.
        name = f"{monotonic_ns():020d}_{uuid.uuid4()}.{queue}.msg"
        final_path = os.path.join(self.data_folder_out, name)
        # The dot prefix and .tmp suffix keep the half-written file from
        # matching the consumer's "*.<queue>.msg" glob.
        temp_path = os.path.join(self.data_folder_out, f".{name}.tmp")
        with open(temp_path, "wb") as handle:
            handle.write(filesystem.str_to_bytes(filesystem.dumps(payload)))
        os.replace(temp_path, final_path)


class Transport(filesystem.Transport):
    Channel = Channel
