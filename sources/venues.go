package sources

import "github.com/uber/h3-go/v4"

// venueCell is a cached venue: its id (shared by every event at the venue),
// the coordinates its cell was computed from, and the cell.
type venueCell struct {
	id       string
	lat, lng float64
	cell     uint64
}

// venueCell returns the venue's id as a shared string and its H3 cell,
// computing the cell once per venue (again if the venue's coordinates
// change). The cache is emptied when it holds cfg.VenueCache venues.
func (d *Decoder) venueCell(id []byte, lat, lng float64) (string, uint64) {
	d.mu.Lock()
	v, ok := d.venues[string(id)]
	d.mu.Unlock()
	if ok && v.lat == lat && v.lng == lng {
		return v.id, v.cell
	}
	if !ok {
		v.id = string(id)
	}
	v.lat, v.lng = lat, lng
	v.cell = uint64(h3.LatLngToCell(h3.NewLatLng(lat, lng), cellRes))
	d.mu.Lock()
	if len(d.venues) >= d.cfg.VenueCache {
		clear(d.venues)
	}
	d.venues[v.id] = v
	d.mu.Unlock()
	return v.id, v.cell
}
