package phone

import (
	"fmt"
	"strings"
)

// ParseAllowList parses a comma-separated list of country calling codes,
// such as the configuration value "1, 44,+971", into ["1", "44", "971"].
// A leading "+" is optional, spaces around entries and empty entries are
// ignored, duplicates are dropped (first one wins). An empty value gives
// an empty list: only Iran is allowed. An entry that is not 1 to 3 digits
// without a leading 0 is an error wrapping ErrBadAllowList.
func ParseAllowList(s string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for i, item := range strings.Split(s, ",") {
		cc := strings.TrimSpace(item)
		if cc == "" {
			continue
		}
		cc = strings.TrimPrefix(cc, "+")
		if !validCallingCode(cc) {
			return nil, fmt.Errorf("%w: entry %d (%q) is not a calling code of 1 to 3 digits",
				ErrBadAllowList, i+1, truncate(item))
		}
		if !seen[cc] {
			seen[cc] = true
			out = append(out, cc)
		}
	}
	return out, nil
}
