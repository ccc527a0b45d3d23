package phone

import "strings"

// Mask hides the middle of an E.164 number for logs: it keeps the "+",
// the first five digits (for +98 numbers: the country code and the first
// three national digits) and the last four, and replaces the rest with
// "***", whatever its length: Mask("+989121234567") == "+98912***4567".
// Short numbers keep fewer leading digits so that at least three are
// hidden. Anything that is not "+" followed by 8 to 15 ASCII digits is
// masked completely as "***".
func Mask(e164 string) string {
	d, ok := strings.CutPrefix(e164, "+")
	if !ok || len(d) < 8 || len(d) > 15 || strings.TrimLeft(d, "0123456789") != "" {
		return "***"
	}
	const tail, hidden = 4, 3
	head := min(5, len(d)-tail-hidden)
	return "+" + d[:head] + "***" + d[len(d)-tail:]
}
