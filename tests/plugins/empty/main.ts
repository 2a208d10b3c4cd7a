// empty: a plugin that does nothing but exist (default root and HTTP contexts), for measuring the
// host's own per-request cost in bench/host.ts.
export * from "../../../shared/proxy/exports";
