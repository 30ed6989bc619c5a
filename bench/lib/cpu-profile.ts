import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Summary of a V8 `.cpuprofile` (written by `node --cpu-prof`): self time per function, and per
 * area (our core, our plugins, saxes, Node's TLS/net/stream internals, GC, ...), the hot spots to
 * look at first.
 */
interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number; readonly columnNumber: number };
  readonly hitCount?: number;
  readonly children?: readonly number[];
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

export interface HotSpot {
  readonly name: string;
  readonly where: string;
  readonly area: string;
  readonly selfMs: number;
  /** Share of the busy (non-idle) samples. */
  readonly percent: number;
}

export interface ProfileSummary {
  readonly file: string;
  readonly totalMs: number;
  readonly busyMs: number;
  readonly functions: readonly HotSpot[];
  readonly areas: ReadonlyArray<{ readonly area: string; readonly selfMs: number; readonly percent: number }>;
}

function shortUrl(url: string, root: string): string {
  if (!url) return "";
  let path = url;
  if (url.startsWith("file://")) {
    try {
      path = relative(root, fileURLToPath(url));
    } catch {
      /* keep the URL */
    }
  }
  return path;
}

function areaOf(name: string, url: string): string {
  if (name === "(garbage collector)") return "GC";
  if (name === "(idle)") return "idle";
  if (name === "(program)") return "(program: native, outside JS)";
  if (name === "(root)") return "(root)";
  if (url.includes("/node_modules/saxes/") || url.includes("/node_modules/xmlchars/")) return "saxes (XML tokenizer)";
  if (url.includes("/node_modules/pino") || url.includes("/node_modules/sonic-boom")) return "pino (logging)";
  if (url.includes("/node_modules/rxjs/")) return "rxjs (events$)";
  if (url.includes("/node_modules/tsyringe/")) return "tsyringe";
  if (url.includes("/node_modules/")) return "other node_modules";
  if (url.includes("/dist/plugins/saxes/")) return "plugins/saxes";
  if (url.includes("/dist/plugins/")) return `plugins/${/\/dist\/plugins\/([^/]+)/.exec(url)?.[1] ?? "?"}`;
  if (url.includes("/dist/core/")) return `core/${/\/dist\/core\/([^/]+)/.exec(url)?.[1] ?? "?"}`;
  if (url.startsWith("node:internal/tls") || url.startsWith("node:tls") || url.startsWith("node:_tls")) return "node: TLS (JS side)";
  if (url.startsWith("node:internal/stream") || url.startsWith("node:stream") || url.startsWith("node:internal/streams")) return "node: streams";
  if (url.startsWith("node:net") || url.startsWith("node:internal/net") || url.startsWith("node:internal/stream_base_commons")) return "node: net";
  if (url.startsWith("node:")) return `node: ${url.slice(5).split("/").slice(0, 2).join("/")}`;
  if (url === "") return `native: ${name || "(anonymous)"}`;
  return "other";
}

/**
 * Self time per function and per area. With `windowUs` (CLOCK_MONOTONIC µs, V8's profile clock on
 * Linux, which `process.hrtime` reads too, in any process), only the samples taken inside that
 * window count: e.g. the throughput run alone, without start-up and module loading.
 */
export function summarizeProfile(file: string, root: string, top = 15, windowUs?: { readonly start: number; readonly end: number }): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  // Self time from the samples and their time deltas (µs), which is exact; hitCount x interval is not.
  const selfUs = new Map<number, number>();
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    at += profile.timeDeltas[i] ?? 0;
    const dt = profile.timeDeltas[i + 1] ?? 0;
    if (windowUs && (at < windowUs.start || at > windowUs.end)) continue;
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
  }
  const fn = new Map<string, { name: string; where: string; area: string; us: number }>();
  const areas = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const name = functionName || "(anonymous)";
    const area = areaOf(name, url);
    total += us;
    if (area === "idle") {
      idle += us;
      continue;
    }
    const where = url ? `${shortUrl(url, root)}:${lineNumber + 1}` : "";
    const key = `${name} ${where}`;
    const entry = fn.get(key) ?? { name, where, area, us: 0 };
    entry.us += us;
    fn.set(key, entry);
    areas.set(area, (areas.get(area) ?? 0) + us);
  }
  const busy = total - idle;
  const pct = (us: number) => (busy > 0 ? (100 * us) / busy : 0);
  return {
    file,
    totalMs: total / 1000,
    busyMs: busy / 1000,
    functions: [...fn.values()].sort((a, b) => b.us - a.us).slice(0, top).map((e) => ({ name: e.name, where: e.where, area: e.area, selfMs: e.us / 1000, percent: pct(e.us) })),
    areas: [...areas.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([area, us]) => ({ area, selfMs: us / 1000, percent: pct(us) })),
  };
}

export function formatProfile(s: ProfileSummary, title: string): string {
  const lines = [`${title}: ${s.busyMs.toFixed(0)} ms busy of ${s.totalMs.toFixed(0)} ms profiled (${relativeName(s.file)})`, `  by area (self time):`];
  for (const a of s.areas) lines.push(`    ${a.percent.toFixed(1).padStart(5)} %  ${a.selfMs.toFixed(0).padStart(6)} ms  ${a.area}`);
  lines.push(`  top functions (self time):`);
  for (const f of s.functions) lines.push(`    ${f.percent.toFixed(1).padStart(5)} %  ${f.selfMs.toFixed(0).padStart(6)} ms  ${f.name}  ${f.where}`);
  return lines.join("\n");
}

function relativeName(file: string): string {
  return file.split("/").slice(-2).join("/");
}
