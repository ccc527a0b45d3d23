package jobq_test

import (
	"errors"
	"testing"
	"time"

	"github.com/sevra/atlas/jobq"
)

func TestParseCron(t *testing.T) {
	t.Parallel()
	after := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC) // a Monday
	tests := []struct {
		pattern, tz string
		ok          bool
		next        time.Time // checked unless zero
	}{
		// accepted
		{"0 3 * * *", "", true, time.Date(2024, 1, 1, 3, 0, 0, 0, time.UTC)},
		{"0 3 * * *", "Asia/Tehran", true, time.Date(2024, 1, 1, 23, 30, 0, 0, time.UTC)},
		{"*/15 * * * *", "", true, time.Date(2024, 1, 1, 0, 15, 0, 0, time.UTC)},
		{"30 0 3 * * *", "", true, time.Date(2024, 1, 1, 3, 0, 30, 0, time.UTC)}, // leading seconds
		{"0 9 * * MON-FRI", "", true, time.Date(2024, 1, 1, 9, 0, 0, 0, time.UTC)},
		{"0 0 1 JAN *", "", true, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"0 0 ? * SUN", "", true, time.Date(2024, 1, 7, 0, 0, 0, 0, time.UTC)},
		{"@daily", "", true, time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)},
		{"@every 1h", "", true, time.Date(2024, 1, 1, 1, 0, 0, 0, time.UTC)},
		{"CRON_TZ=Asia/Tehran 0 3 * * *", "", true, time.Date(2024, 1, 1, 23, 30, 0, 0, time.UTC)},
		{"0 0 29 2 *", "", true, time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)}, // leap days only
		// refused
		{"", "", false, time.Time{}},
		{"not a cron", "", false, time.Time{}},
		{"* * * *", "", false, time.Time{}},               // 4 fields
		{"* * * * * * *", "", false, time.Time{}},         // 7 fields
		{"60 * * * *", "", false, time.Time{}},            // minute out of range
		{"0 24 * * *", "", false, time.Time{}},            // hour out of range
		{"0 0 32 * *", "", false, time.Time{}},            // day out of range
		{"0 0 * 13 *", "", false, time.Time{}},            // month out of range
		{"0 0 * * 8", "", false, time.Time{}},             // weekday out of range
		{"0 0 * * FUNDAY", "", false, time.Time{}},        // unknown name
		{"@fortnightly", "", false, time.Time{}},          // unknown descriptor
		{"0 3 * * *", "Mars/Olympus", false, time.Time{}}, // unknown zone
		{"0 0 30 2 *", "", false, time.Time{}},            // 30 February: never fires
	}
	for _, tt := range tests {
		next, err := jobq.ParseCron(tt.pattern, tt.tz)
		if tt.ok != (err == nil) {
			t.Errorf("ParseCron(%q, %q) error = %v, want ok %v", tt.pattern, tt.tz, err, tt.ok)
			continue
		}
		if err != nil {
			if !errors.Is(err, jobq.ErrInvalidOption) {
				t.Errorf("ParseCron(%q, %q) error %v does not wrap ErrInvalidOption", tt.pattern, tt.tz, err)
			}
			continue
		}
		if got := next(after); !tt.next.IsZero() && !got.Equal(tt.next) {
			t.Errorf("ParseCron(%q, %q) next(%v) = %v, want %v", tt.pattern, tt.tz, after, got, tt.next)
		}
	}
}

// FuzzParseCron checks that any pattern either is refused or yields runs
// strictly after the given time (or none).
func FuzzParseCron(f *testing.F) {
	for _, s := range []string{"0 3 * * *", "30 0 3 * * *", "@daily", "@every 1h", "*/15 1-5 ? JAN-MAR MON", "0 0 30 2 *"} {
		f.Add(s, int64(1704067200))
	}
	f.Fuzz(func(t *testing.T, pattern string, unix int64) {
		next, err := jobq.ParseCron(pattern, "Asia/Tehran")
		if err != nil {
			return
		}
		after := time.Unix(unix%(1<<34), 0)
		if got := next(after); !got.IsZero() && !got.After(after) {
			t.Fatalf("ParseCron(%q) next(%v) = %v, not after it", pattern, after, got)
		}
	})
}
