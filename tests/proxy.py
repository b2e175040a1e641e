"""A TCP proxy for fault injection: forward to a target, cut every connection, or stall."""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType


class TcpProxy:
    """Listens on 127.0.0.1:<port> and forwards to ``target``; ``down()`` simulates a crash or outage."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._up = threading.Event()
        self._up.set()
        self._flowing = threading.Event()
        self._flowing.set()
        self._closed = False
        self._sockets: set[socket.socket] = set()
        self._guard = threading.Lock()
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def down(self) -> None:
        """Drop every open connection; refuse new ones until :meth:`up`."""
        with self._guard:
            self._up.clear()
            for sock in list(self._sockets):
                _close(sock)
            self._sockets.clear()

    def up(self) -> None:
        """Forward again."""
        self._up.set()

    def stall(self) -> None:
        """Keep every connection open, and accept new ones, but forward nothing until :meth:`flow`."""
        self._flowing.clear()

    def flow(self) -> None:
        """Forward what a stall held back, and go on forwarding."""
        self._flowing.set()

    def close(self) -> None:
        """Stop listening and drop everything."""
        self._closed = True
        self.down()
        self._flowing.set()
        _close(self._listener)

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._up.is_set():
                _close(client)
                continue
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            _close(client)
            return
        with self._guard:
            if not self._up.is_set():  # down() ran while this connection was being set up
                _close(client)
                _close(upstream)
                return
            self._sockets.update((client, upstream))
            self.connections += 1
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                self._hold()
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            self._hold()  # a stall holds a close back too, like a network that drops every packet
            _close(source)
            _close(sink)

    def _hold(self) -> None:
        """While stalled, wait (until the stall ends or the proxy closes)."""
        while not self._flowing.wait(0.5) and not self._closed:
            pass


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
