// Package tracing owns contact tracing: the co-presence join of one place
// partition (Tracer), the presences a person event puts at places
// (PresencesOf, Presence, PlaceKind) and the exposures the join finds
// (Exposure), close contacts, companions, secondary contacts and area risk
// alike.
//
// Contact tracing is a repartition join: presences are re-keyed by place, so
// everything needed to find who shared a venue, an H3 cell or a flight with a
// dangerous person is local to one place partition. Each place partition owns
// one Tracer; marks (people whose presences became dangerous, raised by the
// scoring engine) and area designations are broadcast to every partition. The
// exposures found go back to the engine as person events (Exposure.Event).
//
// It imports scoring for the facts it joins on (Event, PersonKey, Time,
// Designation and Areas), the marks, and the policy's contact definitions; the
// rules they share (when a designation is in force, which stays count for area
// risk, how long a stay without left_at lasts) live there, not here. scoring
// imports nothing of this package. Like scoring it is pure: no I/O, no clock,
// no goroutines (one goroutine owns a Tracer); it must not import Kafka,
// ClickHouse, pipeline, sinks or sources.
package tracing
