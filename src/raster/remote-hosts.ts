/**
 * Which hosts a remote input may name, checked on the URL a client gives and again on every
 * redirect: only public addresses and names, and, when an allowlist applies, only its hosts.
 *
 * Workers cannot resolve DNS, so a public name whose records point at a private address is not
 * caught here; Cloudflare's egress does not reach private networks, which covers that case.
 * What is refused here are the addresses and names that can be recognised from the URL alone.
 * The URL parser has already normalised numeric IPv4 forms (`2130706433`, `0x7f.1`,
 * `017700000001`) to dotted quads and IPv6 to its compressed form, so only those two forms
 * need checking.
 */

/** IPv4 ranges that are not public unicast, as [first octets, prefix length, name]. */
const REFUSED_IPV4: readonly [number, number, number, number, number, string][] = [
	[0, 0, 0, 0, 8, "this network"],
	[10, 0, 0, 0, 8, "private"],
	[100, 64, 0, 0, 10, "carrier-grade NAT"],
	[127, 0, 0, 0, 8, "loopback"],
	[169, 254, 0, 0, 16, "link-local (cloud metadata)"],
	[172, 16, 0, 0, 12, "private"],
	[192, 0, 0, 0, 24, "IETF protocol assignments"],
	[192, 0, 2, 0, 24, "documentation"],
	[192, 168, 0, 0, 16, "private"],
	[198, 18, 0, 0, 15, "benchmarking"],
	[198, 51, 100, 0, 24, "documentation"],
	[203, 0, 113, 0, 24, "documentation"],
	[224, 0, 0, 0, 4, "multicast"],
	[240, 0, 0, 0, 4, "reserved"],
];

/** Names that only ever mean a machine of one's own network, or a cloud's metadata service. */
const REFUSED_NAMES = new Set(["localhost", "metadata", "instance-data", "metadata.google.internal"]);
const REFUSED_SUFFIXES = [".localhost", ".internal", ".local", ".localdomain", ".home.arpa", ".intranet", ".lan"];

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function ipv4Refusal(octets: number[]): string | null {
	const address = octets.reduce((value, octet) => value * 256 + octet, 0);
	for (const [a, b, c, d, prefix, name] of REFUSED_IPV4) {
		const network = ((a * 256 + b) * 256 + c) * 256 + d;
		const size = 2 ** (32 - prefix);
		if (address >= network && address < network + size) return `${name} address`;
	}
	return null;
}

/** The eight 16-bit groups of a compressed IPv6 address as the URL parser writes it. */
function ipv6Groups(address: string): number[] | null {
	const [head = "", tail] = address.split("::");
	const parse = (part: string) => (part === "" ? [] : part.split(":").map((group) => Number.parseInt(group, 16)));
	const front = parse(head);
	const back = tail === undefined ? [] : parse(tail);
	const missing = 8 - front.length - back.length;
	if (missing < 0 || (tail === undefined && missing !== 0)) return null;
	const groups = [...front, ...Array.from({ length: missing }, () => 0), ...back];
	return groups.every((group) => Number.isInteger(group) && group >= 0 && group <= 0xffff) ? groups : null;
}

/**
 * Only global unicast (2000::/3) is public; inside it, documentation, 6to4 and Teredo embed or
 * stand for addresses that are not the host's own. Everything else (loopback, unspecified,
 * IPv4-mapped or -compatible, NAT64, unique-local such as AWS's fd00:ec2::254, link-local,
 * site-local, multicast) is refused.
 */
function ipv6Refusal(address: string): string | null {
	const groups = ipv6Groups(address);
	if (!groups) return "malformed IPv6 address";
	const [first = 0, second = 0] = groups;
	if (first < 0x2000 || first > 0x3fff) return "non-public IPv6 address (loopback, mapped, unique-local or link-local)";
	if (first === 0x2001 && second === 0x0db8) return "documentation IPv6 address";
	if (first === 0x2002) return "6to4 IPv6 address";
	if (first === 0x2001 && second === 0) return "Teredo IPv6 address";
	return null;
}

/** Why a hostname (as `URL.hostname` gives it) may not be fetched, or null when it may. */
export function hostRefusal(hostname: string): string | null {
	const host = hostname.toLowerCase().replace(/\.$/, "");
	if (host.startsWith("[")) return ipv6Refusal(host.slice(1, -1));
	const ipv4 = IPV4.exec(host);
	if (ipv4) return ipv4Refusal(ipv4.slice(1).map(Number));
	if (REFUSED_NAMES.has(host) || REFUSED_SUFFIXES.some((suffix) => host.endsWith(suffix))) {
		return "local or metadata host name";
	}
	// A single label resolves through the local search domain, never to a public archive.
	if (!host.includes(".")) return "single-label host name";
	return null;
}

/** An allowlist entry matches its host exactly, or, written `*.example.com`, any subdomain. */
export function hostAllowed(hostname: string, allowlist: readonly string[]): boolean {
	const host = hostname.toLowerCase().replace(/\.$/, "");
	return allowlist.some((entry) => {
		const pattern = entry.toLowerCase();
		return pattern.startsWith("*.") ? host.endsWith(pattern.slice(1)) : host === pattern;
	});
}
