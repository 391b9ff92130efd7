// Package bench holds healthcode's benchmarks and the report `make bench`
// writes (bench/out/report.md and report.json): each figure measured beside a
// baseline measured in the same run. `healthcode bench` runs them; smoke
// tests run the same code at sizes that take seconds, so CI exercises it.
// Sizes come from Options (flags of `healthcode bench`); unit benchmarks
// that need long runs read HEALTHCODE_BENCH_* and shrink under -short.
//
// It may import every package of the module; only cmd/healthcode imports it.
package bench
