"""Which local ports are free, and who holds the ones that are not."""

from __future__ import annotations

import socket
from dataclasses import dataclass

import psutil

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class PortHolder:
    """A port that is taken, and the process holding it when it can be found."""

    port: int
    protocol: str
    pid: int | None
    process_name: str | None

    def describe(self) -> str:
        """A sentence a person can act on."""
        who = (
            f"process {self.pid} ({self.process_name})"
            if self.pid is not None
            else "an unknown process"
        )
        return f"{self.protocol.upper()} port {LOOPBACK}:{self.port} is in use by {who}"


def _is_free(port: int, kind: socket.SocketKind) -> bool:
    with socket.socket(socket.AF_INET, kind) as s:
        if kind == socket.SOCK_STREAM:
            # Matches what servers set, so a port in TIME_WAIT after our own restart counts as free.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def _holder(port: int, protocol: str) -> PortHolder:
    kind = socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM
    try:
        connections = psutil.net_connections(kind=protocol)
    except psutil.AccessDenied:
        connections = []
    for conn in connections:
        if conn.laddr and conn.laddr.port == port and conn.type == kind and conn.pid:
            if protocol == "tcp" and conn.status != psutil.CONN_LISTEN:
                continue
            try:
                name = psutil.Process(conn.pid).name()
            except psutil.Error:
                name = None
            return PortHolder(port, protocol, conn.pid, name)
    return PortHolder(port, protocol, None, None)


def taken_ports(tcp: list[int], udp: list[int]) -> list[PortHolder]:
    """The ports among ``tcp`` and ``udp`` that cannot be bound on loopback, with holders."""
    taken = [_holder(p, "tcp") for p in tcp if not _is_free(p, socket.SOCK_STREAM)]
    taken += [_holder(p, "udp") for p in udp if not _is_free(p, socket.SOCK_DGRAM)]
    return taken
