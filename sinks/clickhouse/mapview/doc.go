// Package mapview is the map page (/map): an H3 map of the province drawn
// as SVG hexagons (h3-go cell boundaries), coloured by the exposures or by
// the persons of a colour (red by default) per cell on a chosen day, beside
// an SVG chart of the colour counts day by day, all read from the
// pipeline's ClickHouse tables and rendered on the server: no script, no
// external tiles, fonts or libraries, so the page works where nothing
// outside can be reached.
//
// It owns the page's queries and rendering. It imports sinks/clickhouse (a
// Client's connection), scoring (H3 parents) and h3-go; it must not import
// pipeline or any Kafka client. The command that runs the HTTP listener
// mounts it with Register.
package mapview
