package limit

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Rate is a token bucket: PerSecond tokens refill each second, up to
// Burst. A zero PerSecond means no limit.
type Rate struct {
	PerSecond float64
	Burst     int
}

// Unlimited reports whether r lets everything through.
func (r Rate) Unlimited() bool { return r.PerSecond <= 0 }

// String formats r the way ParseRate reads it.
func (r Rate) String() string {
	if r.Unlimited() {
		return "unlimited"
	}
	return strconv.FormatFloat(r.PerSecond, 'f', -1, 64) + "/s,burst=" + strconv.Itoa(r.burst())
}

// burst is the bucket size: Burst, or one second's worth (at least 1).
func (r Rate) burst() int {
	if r.Burst > 0 {
		return r.Burst
	}
	return max(1, int(math.Ceil(r.PerSecond)))
}

// ParseRate reads "N/s", "N/m" or "N/h", optionally followed by
// ",burst=B" (default: one second's worth, at least 1), or "0",
// "unlimited", "off" for no limit. N may have a fraction ("0.5/s").
// The Rate it returns always holds its burst, so that ParseRate(r.String())
// == r: "200/s" and "200/s,burst=200" are the same Rate.
func ParseRate(s string) (Rate, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "0", "unlimited", "off", "none":
		return Rate{}, nil
	}
	spec, burstSpec, hasBurst := strings.Cut(s, ",")
	n, unit, ok := strings.Cut(spec, "/")
	if !ok {
		return Rate{}, fmt.Errorf("rate %q: want N/s, N/m or N/h, optionally \",burst=B\", or \"unlimited\"", s)
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
	if err != nil || v <= 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return Rate{}, fmt.Errorf("rate %q: %q is not a positive number", s, n)
	}
	var per time.Duration
	switch strings.TrimSpace(unit) {
	case "s":
		per = time.Second
	case "m":
		per = time.Minute
	case "h":
		per = time.Hour
	default:
		return Rate{}, fmt.Errorf("rate %q: unit %q is not s, m or h", s, unit)
	}
	r := Rate{PerSecond: v / per.Seconds()}
	if hasBurst {
		k, b, ok := strings.Cut(strings.TrimSpace(burstSpec), "=")
		if !ok || strings.TrimSpace(k) != "burst" {
			return Rate{}, fmt.Errorf("rate %q: want \",burst=B\" after the rate", s)
		}
		if r.Burst, err = strconv.Atoi(strings.TrimSpace(b)); err != nil || r.Burst < 1 {
			return Rate{}, fmt.Errorf("rate %q: burst %q is not a positive integer", s, b)
		}
	} else {
		r.Burst = r.burst()
	}
	return r, nil
}
