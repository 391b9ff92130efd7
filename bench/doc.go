// Package bench holds healthcode's benchmarks: the end-to-end and component
// measurements that take longer or need more data than a unit benchmark, each
// with a small smoke test so that CI runs the same code at a size that takes
// seconds. Sizes come from environment variables (HEALTHCODE_BENCH_*) and
// shrink under -short.
//
// It is test code only: it may import every package of the module, and nothing
// imports it.
package bench
