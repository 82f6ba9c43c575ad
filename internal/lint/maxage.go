package lint

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// maxMaxAge bounds max_age: ten years is "never" for a rotation policy.
const maxMaxAge = 10 * 365 * 24 * time.Hour

// maxAgeError says a max_age value is not a duration lint understands.
type maxAgeError struct{ Value string }

func (e *maxAgeError) Error() string {
	return fmt.Sprintf("%q is not a duration such as 90d, 12w or 2160h (0 turns the check off)", e.Value)
}

// ParseMaxAge reads a max_age value: days (90d), weeks (12w), any Go
// duration (2160h), or 0 to turn the check off. Empty means DefaultMaxAge.
func ParseMaxAge(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return DefaultMaxAge, nil
	}
	if s == "0" {
		return 0, nil
	}
	var d time.Duration
	unit := map[byte]time.Duration{'d': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[s[len(s)-1]]
	if n, err := strconv.Atoi(s[:len(s)-1]); unit != 0 && err == nil && n > 0 && n <= int(maxMaxAge/unit) {
		d = time.Duration(n) * unit
	} else if g, err := time.ParseDuration(s); err == nil && g > 0 {
		d = g
	}
	if d <= 0 || d > maxMaxAge {
		return 0, &maxAgeError{Value: s}
	}
	return d, nil
}

// FormatMaxAge prints d in days when it is a whole number of them.
func FormatMaxAge(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}
