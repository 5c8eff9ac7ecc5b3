package spec

import (
	"encoding/json"
	"fmt"
	"time"
)

// Duration is a time.Duration written as a Go duration string ("1.5s", "200ms") in design files.
// Its zero value means "not set"; what that implies is documented on each field.
type Duration struct {
	time.Duration
}

// Dur returns a Duration of d.
func Dur(d time.Duration) Duration { return Duration{d} }

// IsZero reports whether the duration is unset.
func (d Duration) IsZero() bool { return d.Duration == 0 }

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// String formats the duration compactly ("2s", "1m30s", "250ms").
func (d Duration) String() string {
	if d.Duration == 0 {
		return "0s"
	}
	return d.Duration.String()
}

// UnmarshalJSON reads a duration string such as "250ms" or "2s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("expected a duration string such as \"500ms\" or \"2s\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("expected a duration such as \"500ms\" or \"2s\", got %q", s)
	}
	d.Duration = v
	return nil
}
