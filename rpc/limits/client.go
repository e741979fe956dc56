package limits

import (
	"fmt"
	"net"
	"strings"
)

// Proxies are the addresses whose X-Forwarded-For header is believed: a
// gateway or load balancer in front of the node, whose clients the limits
// then count one by one instead of as one client.
type Proxies []*net.IPNet

// ParseProxies reads IPs and CIDRs.
func ParseProxies(entries []string) (Proxies, error) {
	var out Proxies
	for _, s := range entries {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			ip := net.ParseIP(s)
			if ip == nil {
				return nil, fmt.Errorf("trusted proxy %q: not an IP or CIDR", s)
			}
			bits := 8 * len(ip.To16())
			if ip.To4() != nil {
				ip, bits = ip.To4(), 32
			}
			out = append(out, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
			continue
		}
		_, n, err := net.ParseCIDR(s)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: %w", s, err)
		}
		out = append(out, n)
	}
	return out, nil
}

func (p Proxies) trusted(addr string) bool {
	ip := net.ParseIP(addr)
	if ip == nil {
		return false
	}
	for _, n := range p {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// Client returns the client a request from remoteAddr (host:port) with the
// X-Forwarded-For header xff counts as: the peer itself, or behind trusted
// proxies the last address of xff that is not one of them.
func (p Proxies) Client(remoteAddr, xff string) string {
	peer, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		peer = remoteAddr
	}
	if xff == "" || !p.trusted(peer) {
		return peer
	}
	ip := peer
	hops := strings.Split(xff, ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		if net.ParseIP(hop) == nil {
			break
		}
		ip = hop
		if !p.trusted(hop) {
			break
		}
	}
	return ip
}
