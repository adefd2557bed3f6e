"""A Kafka TCP proxy that enforces ``max.message.bytes`` on produce, as a real Kafka broker does.

The embedded broker (Tansu) stores a topic's ``max.message.bytes`` but accepts any size, so a test
of "the broker rejected my produce" cannot use it alone. The broker is started with this proxy's
address as its advertised listener, so every client talks through the proxy after bootstrap. The
proxy forwards every request unchanged, except a Produce request that carries a record batch
larger than its topic's limit: those partitions are answered MESSAGE_TOO_LARGE (error 10, what
Kafka answers) and never reach the broker; the rest of the request goes through. Requests of one
connection are handled one at a time (enough for tests).
"""

from __future__ import annotations

import socket
import struct
import threading
from contextlib import suppress

from kafka.protocol.producer.produce import ProduceRequest, ProduceResponse

from storesight.broker import EmbeddedBroker, free_port

MESSAGE_TOO_LARGE = 10


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def _recv_frame(sock: socket.socket) -> bytes | None:
    size = _recv_exact(sock, 4)
    if size is None:
        return None
    return _recv_exact(sock, struct.unpack(">i", size)[0])


def _frame(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


class LimitProxy:
    """Forwards 127.0.0.1:port to the broker; ``limits`` maps topic -> max record batch bytes."""

    def __init__(self, upstream: tuple[str, int], port: int | None = None):
        self.upstream = upstream
        self.port = port or free_port()
        self.limits: dict[str, int] = {}
        self.rejected: list[tuple[str, int, int]] = []  # (topic, partition, batch bytes)
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", self.port))
        self._server.listen(64)
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True, name="kafka-proxy").start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.upstream)
        except OSError:
            client.close()
            return
        with client, upstream:
            while not self._stop.is_set():
                request = _recv_frame(client)
                if request is None:
                    return
                api_key, version = struct.unpack(">hh", request[:4])
                if api_key == 0 and self.limits:
                    reply = self._produce(request, version, upstream)
                else:
                    upstream.sendall(_frame(request))
                    reply = _recv_frame(upstream) if not _is_acks0(api_key, request, version) else b""
                if reply is None:
                    return
                if reply:
                    client.sendall(_frame(reply))

    def _produce(self, request: bytes, version: int, upstream: socket.socket) -> bytes | None:
        msg = ProduceRequest.decode(request, version=version, header=True)
        header = msg._header
        refused: dict[str, list[int]] = {}
        for topic in msg.topic_data:
            limit = self.limits.get(topic.name)
            if limit is None:
                continue
            keep = []
            for part in topic.partition_data:
                size = len(part.records or b"")
                if size > limit:
                    refused.setdefault(topic.name, []).append(part.index)
                    self.rejected.append((topic.name, part.index, size))
                else:
                    keep.append(part)
            topic.partition_data = keep
        if not refused:
            upstream.sendall(_frame(request))
            return _recv_frame(upstream)
        msg.topic_data = [t for t in msg.topic_data if t.partition_data]
        responses = []
        throttle = 0
        if msg.topic_data:
            msg.with_header(header.correlation_id, header.client_id)
            upstream.sendall(msg.encode(version=version, header=True, framed=True))
            raw = _recv_frame(upstream)
            if raw is None:
                return None
            answer = ProduceResponse.decode(raw, version=version, header=True)
            responses = list(answer.responses)
            throttle = answer.throttle_time_ms
        for name, partitions in refused.items():
            parts = [ProduceResponse.TopicProduceResponse.PartitionProduceResponse(
                index=p, error_code=MESSAGE_TOO_LARGE, base_offset=-1) for p in partitions]
            responses.append(ProduceResponse.TopicProduceResponse(name=name, partition_responses=parts))
        out = ProduceResponse(responses=responses, throttle_time_ms=throttle)
        out.API_VERSION = version  # before the header: a response header has no version field
        out.with_header(header.correlation_id)
        return out.encode(header=True)

    def close(self) -> None:
        self._stop.set()
        with suppress(OSError):
            self._server.close()


def _is_acks0(api_key: int, request: bytes, version: int) -> bool:
    if api_key != 0:
        return False
    return ProduceRequest.decode(request, version=version, header=True).acks == 0


class ProxiedBroker(EmbeddedBroker):
    """An embedded broker whose clients all go through a ``LimitProxy`` (it advertises the proxy)."""

    def __init__(self):
        port = free_port()
        self.proxy = LimitProxy(("127.0.0.1", port))
        super().__init__(port=port, advertised_port=self.proxy.port)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.proxy.port}"

    def stop(self) -> None:
        self.proxy.close()
        super().stop()
