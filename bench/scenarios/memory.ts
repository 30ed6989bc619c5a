import { existsSync, readFileSync } from "node:fs";
import { median, rssBytes } from "../lib/proc.js";
import type { LinkTarget, S2sLoadGen } from "../lib/s2s-loadgen.js";

export interface MemoryResult {
  readonly links: number;
  /** Target RSS samples before the links (each after a forced GC when the target allows it), bytes. */
  readonly rssBefore: readonly number[];
  /** Target RSS samples after `links` more links settled, bytes. */
  readonly rssAfter: readonly number[];
  /** (median after - median before) / links, KiB; undefined when the trial was too noisy to tell. */
  readonly kibPerLink?: number;
  /** How far the samples of this trial wandered, per link, KiB (range before + range after). */
  readonly noiseKib: number;
  /** Why the trial gave no figure ("too noisy: ..."), when it gave none. */
  readonly noisy?: string;
  /** Whether the samples were taken after a forced garbage collection. */
  readonly forcedGc: boolean;
  /** Time to open (and authenticate) the links, ms. */
  readonly openMs: number;
  /** db:verify requests the target sent to the load generator (dialback verifications). */
  readonly verifications: number;
}

/** A target process whose memory can be sampled; `gc` forces a collection in it when it can. */
export interface MemoryTarget extends LinkTarget {
  readonly pid: number;
  /** Our server under bench/lib/gc-on-signal.cjs: SIGUSR2 collects garbage, then appends a line to this file. */
  readonly gcFile?: string;
}

/** Samples per side of a trial: the median resists one outlier, the range shows the noise. */
const SAMPLES = 3;

/** VmRSS once it stops moving: sampled every 250 ms, stable when 3 samples in a row are within 0.5 %, at most `maxMs`. */
export async function settledRss(pid: number, minMs = 1_000, maxMs = 8_000): Promise<number> {
  const started = Date.now();
  const samples: number[] = [];
  for (;;) {
    samples.push(rssBytes(pid));
    const last = samples.slice(-3);
    const elapsed = Date.now() - started;
    if (elapsed >= minMs && last.length === 3 && Math.max(...last) - Math.min(...last) <= 0.005 * Math.max(...last)) return last[2]!;
    if (elapsed >= maxMs) return samples[samples.length - 1]!;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Ask the target to collect garbage (SIGUSR2) and wait until it wrote that it did (bounded). */
async function forceGc(target: Pick<MemoryTarget, "pid" | "gcFile">): Promise<boolean> {
  const file = target.gcFile;
  if (!file) return false;
  const lines = () => (existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean).length : 0);
  const before = lines();
  process.kill(target.pid, "SIGUSR2");
  const deadline = Date.now() + 10_000;
  while (lines() === before) {
    if (Date.now() > deadline) throw new Error(`pid ${target.pid} did not answer SIGUSR2 (forced GC) within 10 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/** SAMPLES settled RSS values of the target, each after a forced GC when it allows one. */
export async function rssSamples(target: Pick<MemoryTarget, "pid" | "gcFile">): Promise<{ values: number[]; forcedGc: boolean }> {
  const values: number[] = [];
  let forcedGc = false;
  for (let i = 0; i < SAMPLES; i++) {
    forcedGc = (await forceGc(target)) || forcedGc;
    values.push(await settledRss(target.pid, 500, 4_000));
  }
  return { values, forcedGc };
}

const range = (values: readonly number[]) => Math.max(...values) - Math.min(...values);

/**
 * One trial's figure from its samples, or "too noisy": a difference that is not clearly larger
 * than the wandering of the samples themselves says nothing about the links (and a negative one is
 * impossible: links do not free memory). Pure, so the rule is unit-tested.
 */
export function perLinkFigure(before: readonly number[], after: readonly number[], links: number): { kibPerLink?: number; noiseKib: number; noisy?: string } {
  const kib = (median(after) - median(before)) / links / 1024;
  const noiseKib = (range(before) + range(after)) / links / 1024;
  if (!(kib > 0)) return { noiseKib, noisy: `too noisy: RSS did not grow (${kib.toFixed(1)} KiB/link)` };
  if (noiseKib > kib / 2) return { noiseKib, noisy: `too noisy: samples wander ${noiseKib.toFixed(1)} KiB/link for a difference of ${kib.toFixed(1)}` };
  return { kibPerLink: kib, noiseKib };
}

/**
 * Resident memory per idle authenticated TLS link: the load generator opens one warm-up link
 * (which also makes the target open its own verification link back to the load generator's
 * domain), then the target's RSS is sampled SAMPLES times (each after a forced GC when the target
 * runs under gc-on-signal.cjs, then settled), then `links` more links (STARTTLS + dialback, each
 * `type='valid'`), sampled again. Figure: (median after - median before) / links, in KiB, or "too
 * noisy" (perLinkFigure). Fails when a link was refused or closed by the target: the figure would
 * not be per open link.
 */
export async function memoryPerLink(gen: S2sLoadGen, target: MemoryTarget, links: number, options: { concurrency: number; linkTimeoutMs: number; deadlineMs: number }): Promise<MemoryResult> {
  const warm = await gen.openLinks(target, 1, 1, options.linkTimeoutMs, options.linkTimeoutMs);
  if (warm.valid !== 1) throw new Error(`warm-up link to ${target.domain} failed: ${warm.errors.join("; ")}`);
  const before = await rssSamples(target);
  const verifyBefore = gen.verifyAnswered;
  const r = await gen.openLinks(target, links, options.concurrency, options.linkTimeoutMs, options.deadlineMs);
  if (r.valid !== links) throw new Error(`${r.valid} of ${links} links to ${target.domain} authenticated (${r.failed} failed): ${r.errors.join("; ")}`);
  const after = await rssSamples(target);
  if (gen.links.size !== links + 1) throw new Error(`${target.domain} closed ${links + 1 - gen.links.size} of ${links + 1} authenticated links`);
  return {
    links,
    rssBefore: before.values,
    rssAfter: after.values,
    ...perLinkFigure(before.values, after.values, links),
    forcedGc: before.forcedGc && after.forcedGc,
    openMs: r.ms,
    verifications: gen.verifyAnswered - verifyBefore,
  };
}
