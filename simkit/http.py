"""A ThreadingHTTPServer on 127.0.0.1 that tracks its connections, and the request handler base that feeds it.

Connections are tracked so stop() can close keep-alive sockets: a client of
a stopped simulator sees a closed connection rather than a hang.
"""

from __future__ import annotations

import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

logger = logging.getLogger(__name__)


class TrackingHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, handler: type[TrackedRequestHandler]) -> None:
        super().__init__(("127.0.0.1", port), handler)
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def track(self, connection: socket.socket, *, open_: bool) -> None:
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the peer: nothing to release

    def serve_in_thread(self, *, name: str) -> threading.Thread:
        """Serve on a started daemon thread; stop() ends it within the 0.1 s poll."""
        thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1}, name=name, daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        """Stop serve_forever (from another thread), drop open connections and release the port."""
        self.shutdown()
        self.close_connections()
        self.server_close()


class TrackedRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body are two writes; with Nagle on, a keep-alive client's
    # delayed ACK would hold each small answer back ~40 ms.
    disable_nagle_algorithm = True
    sys_version = ""
    # Each simulator logs its requests under its own name, so its log level is its own.
    access_log: logging.Logger = logger
    server: TrackingHTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, open_=True)

    def finish(self) -> None:
        self.server.track(self.connection, open_=False)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        self.access_log.debug("%s " + format, self.client_address[0], *args)
