package inventory

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	// Change windows name IANA time zones; embedding the database makes an
	// inventory check give the same answer on a host without one (a
	// minimal container, Windows).
	_ "time/tzdata"
)

// Window is a recurring change window: "Sat 02:00-04:00 UTC",
// "Mon-Fri 22:00-06:00 Europe/Berlin". On each of Days it opens at Start
// and closes at End, in Location; an End not after Start closes on the next
// day. Days are the days the window opens.
type Window struct {
	Days       [7]bool // indexed by time.Weekday
	Start, End int     // minutes after midnight; End may be 1440 (24:00)
	Location   *time.Location
	text       string
}

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday,
}

// ParseWindow parses "DAYS HH:MM-HH:MM ZONE". DAYS is a day (Sat), a range
// (Mon-Fri, Fri-Mon wraps), a comma-separated list of those (Mon,Wed,Fri-Sat)
// or "daily"; days are English names or their three-letter abbreviations,
// in any case. Times are 24-hour; the end may be 24:00, and an end at or
// before the start means the window closes the next day. ZONE is an IANA
// time zone name (UTC, Europe/Berlin); it is required, because "02:00"
// alone means a different moment on every machine.
func ParseWindow(s string) (*Window, error) {
	f := strings.Fields(s)
	if len(f) != 3 {
		return nil, errors.New(`want "DAYS HH:MM-HH:MM ZONE", like "Sat 02:00-04:00 UTC" or "Mon-Fri 22:00-06:00 Europe/Berlin"`)
	}
	w := &Window{text: strings.Join(f, " ")}
	if err := w.parseDays(f[0]); err != nil {
		return nil, err
	}
	from, to, ok := strings.Cut(f[1], "-")
	if !ok {
		return nil, fmt.Errorf("times %q: want HH:MM-HH:MM", f[1])
	}
	var err error
	if w.Start, err = parseClock(from, false); err != nil {
		return nil, err
	}
	if w.End, err = parseClock(to, true); err != nil {
		return nil, err
	}
	if w.Start == w.End {
		return nil, fmt.Errorf("times %q: the window starts and ends at the same time", f[1])
	}
	if f[2] == "Local" {
		return nil, errors.New(`time zone "Local" depends on the machine; name the zone (UTC, Europe/Berlin)`)
	}
	if w.Location, err = time.LoadLocation(f[2]); err != nil {
		return nil, fmt.Errorf("unknown time zone %q (want an IANA name such as UTC or Europe/Berlin)", f[2])
	}
	return w, nil
}

func (w *Window) parseDays(s string) error {
	if strings.EqualFold(s, "daily") {
		w.Days = [7]bool{true, true, true, true, true, true, true}
		return nil
	}
	for _, part := range strings.Split(s, ",") {
		a, b, isRange := strings.Cut(part, "-")
		from, ok := dayNames[strings.ToLower(a)]
		if !ok {
			return fmt.Errorf("days %q: unknown day %q (want Mon, Tue, Wed, Thu, Fri, Sat, Sun, a range such as Mon-Fri, or daily)", s, a)
		}
		to := from
		if isRange {
			if to, ok = dayNames[strings.ToLower(b)]; !ok {
				return fmt.Errorf("days %q: unknown day %q (want Mon, Tue, Wed, Thu, Fri, Sat, Sun, a range such as Mon-Fri, or daily)", s, b)
			}
		}
		for d := from; ; d = (d + 1) % 7 {
			w.Days[d] = true
			if d == to {
				break
			}
		}
	}
	return nil
}

func parseClock(s string, end bool) (int, error) {
	hh, mm, ok := strings.Cut(s, ":")
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if !ok || len(hh) == 0 || len(hh) > 2 || len(mm) != 2 || err1 != nil || err2 != nil || h < 0 || m < 0 || m > 59 || h > 24 || h == 24 && (m != 0 || !end) {
		return 0, fmt.Errorf("time %q: want HH:MM from 00:00 to 23:59 (24:00 as an end)", s)
	}
	return h*60 + m, nil
}

// String is the window as written, with spaces normalised.
func (w *Window) String() string { return w.text }

// Duration is how long the window stays open (on a day without a daylight
// saving change).
func (w *Window) Duration() time.Duration {
	d := w.End - w.Start
	if d <= 0 {
		d += 24 * 60
	}
	return time.Duration(d) * time.Minute
}

// Next returns the window open at t, or else the next one to open after t.
func (w *Window) Next(t time.Time) (start, end time.Time) {
	lt := t.In(w.Location)
	y, m, d := lt.Date()
	for i := -1; i <= 7; i++ {
		day := time.Date(y, m, d+i, 12, 0, 0, 0, w.Location)
		if !w.Days[day.Weekday()] {
			continue
		}
		endDay := d + i
		if w.End <= w.Start {
			endDay++
		}
		start = time.Date(y, m, d+i, w.Start/60, w.Start%60, 0, 0, w.Location)
		end = time.Date(y, m, endDay, w.End/60, w.End%60, 0, 0, w.Location)
		if end.After(t) {
			return start, end
		}
	}
	return time.Time{}, time.Time{} // no day set: a Window from ParseWindow always has one
}

// Contains reports whether the window is open at t.
func (w *Window) Contains(t time.Time) bool {
	start, end := w.Next(t)
	return !start.IsZero() && !t.Before(start) && t.Before(end)
}
