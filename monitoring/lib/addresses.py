"""Where a device is: a host (a name or an IP address) and an OPC UA endpoint URL. Pure: no Django.

Each check returns what is wrong in words, or None; the device models call them from clean().
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

# A label of a host name (RFC 1123; '_' too, as container and Windows host names use it).
_LABEL = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")


def host_problem(host: str) -> str | None:
    """Why `host` is neither a host name nor an IPv4 or IPv6 address, or None when it is one."""
    if not host:
        return "give a host name or an IP address"
    if host.startswith("[") and host.endswith("]"):
        return f"{host!r}: write an IPv6 address without brackets"
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return f"{host!r} is not an IPv6 address (nor a host name: those hold no ':')"
        return None
    name = host.removesuffix(".")
    labels = name.split(".")
    if all(label.isascii() and label.isdigit() for label in labels):
        # 10.0.0.5, but not 1 or 10.0.0.256: digits alone must be a whole IPv4 address.
        try:
            ipaddress.IPv4Address(name)
        except ValueError:
            return f"{host!r} is not an IPv4 address (four numbers 0–255 such as 10.0.0.5) nor a host name"
        return None
    if len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        return (f"{host!r} is not a host name: letters, digits, '-' and '_' in labels of up to 63 between dots, "
                "at most 253 in all")
    if labels[-1].isdigit():
        return f"{host!r} is not a host name: its last label may not be a number"
    return None


def port_problem(port: int | None) -> str | None:
    if port is None or not 1 <= port <= 65535:
        return f"a port is a number from 1 to 65535, not {port}"
    return None


def opcua_url_problem(url: str) -> str | None:
    """Why `url` is not an OPC UA endpoint `opc.tcp://host[:port][/path]`, or None when it is."""
    example = "such as opc.tcp://10.0.0.5:4840/ or opc.tcp://plc-1:4840/server"
    if not url.isprintable() or any(char.isspace() for char in url):
        return f"{url!r} holds spaces or control characters: write a URL {example}"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:  # a port that is not a number or above 65535, a broken [IPv6]
        return f"{url!r} is not an OPC UA URL ({error}): write one {example}"
    if parts.scheme.lower() != "opc.tcp" or not parts.netloc:
        return f"{url!r} is not an OPC UA URL: write one {example}"
    if parts.username is not None or parts.password is not None:
        return f"{url!r}: give the user name and password in their own fields, not in the URL"
    if parts.query or parts.fragment:
        return f"{url!r}: an OPC UA endpoint URL has no ?query or #fragment"
    if ":" in parts.netloc.rsplit("]", 1)[-1] and port is None:
        return f"{url!r} has a ':' but no port after it"
    host = parts.hostname or ""
    bracketed = parts.netloc.startswith("[")
    if bracketed and ":" not in host:
        return f"{url!r}: only an IPv6 address goes in brackets"
    if not bracketed and ":" in host:
        return f"{url!r}: put an IPv6 address in brackets, such as opc.tcp://[fd00::5]:4840/"
    problem = host_problem(host) or (port_problem(port) if port is not None else None)
    return f"{url!r}: {problem}" if problem else None
