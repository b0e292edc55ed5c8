"""The client address of a request, from the forms sources log it in: a bare IP, `ip:port`, `[v6]:port`, Java's
`InetSocketAddress#toString` (`/192.0.2.44:51234`, `host/192.0.2.44:51234`, `/[2001:db8::1]:443`), and the
proxy headers `X-Forwarded-For` and `Forwarded` (RFC 7239). The privacy rules apply afterwards, to whichever
address is chosen here (docs/log-sources.md)."""

from __future__ import annotations

import ipaddress

from georchestra_analytics.parser.memo import short_key_cache

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Addresses that are never the public side of a request: private networks, shared address space (carrier NAT),
# loopback, link-local, unique-local. The documentation ranges (192.0.2.0/24...) stand for public addresses.
_INTERNAL = tuple(
    ipaddress.ip_network(text)
    for text in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "0.0.0.0/8",
        "::1/128",
        "::/128",
        "fc00::/7",
        "fe80::/10",
    )
)
# A header value is bounded before it is split: a forged list of thousands of hops costs nothing.
_MAX_HOPS = 32


def socket_address_ip(value: str) -> str:
    """The host part of a socket address, without its port: `/192.0.2.44:51234`, `host.example/192.0.2.44:51234`,
    `[2001:db8::1]:443`, `192.0.2.44:80` -> the IP text; anything else comes back stripped, unchanged."""
    text = value.rsplit("/", 1)[-1].strip()
    if text.startswith("["):
        return text[1 : text.find("]")] if "]" in text else text[1:]
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text


@short_key_cache(65536, max_chars=128)
def parse_ip(value: str) -> IpAddress | None:
    """The IP a socket-address text names, or None (a host name, `unknown`, an obfuscated `_hidden` name)."""
    text = socket_address_ip(value)
    if "%" in text:
        text = text.split("%", 1)[0]  # an IPv6 zone (`fe80::1%eth0`) names an interface, not a host
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def is_internal(ip: IpAddress) -> bool:
    return any(ip.version == network.version and ip in network for network in _INTERNAL)


def forwarded_for(value: str) -> list[str]:
    """The hops of an `X-Forwarded-For` list (`client, proxy1, proxy2`) or of a `Forwarded` header
    (`for=192.0.2.60;proto=https, for="[2001:db8::17]:4711"`), left (the client as claimed) to right."""
    hops: list[str] = []
    for element in value.split(",", _MAX_HOPS)[:_MAX_HOPS]:
        part = element.strip()
        if "=" in part:  # RFC 7239: pairs separated by ";", the hop is the `for` one
            found = None
            for pair in part.split(";"):
                name, _, item = pair.partition("=")
                if name.strip().lower() == "for":
                    found = item.strip().strip('"')
                    break
            if found is None:
                continue
            part = found
        if part:
            hops.append(part)
    return hops


def client_address(direct: str | None, forwarded: list[str]) -> str | None:
    """The client's IP text: the address the source saw (`direct`) when it is public; otherwise the first public
    hop of the proxy headers (the leftmost address outside private networks: a client inside a company is
    known by its company's public address); otherwise the source's address, or the first hop that is an IP.
    An address that is no IP (a host name) is returned only when nothing better exists, as its text."""
    direct_ip = parse_ip(direct) if direct else None
    if direct_ip is not None and not is_internal(direct_ip):
        return str(direct_ip)
    first_hop: IpAddress | None = None
    for hop in forwarded:
        ip = parse_ip(hop)
        if ip is None:
            continue
        if not is_internal(ip):
            return str(ip)
        if first_hop is None:
            first_hop = ip
    if direct_ip is not None:
        return str(direct_ip)
    if first_hop is not None:
        return str(first_hop)
    return socket_address_ip(direct) or None if direct else None
