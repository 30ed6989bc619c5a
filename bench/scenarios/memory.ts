import { rssBytes } from "../lib/proc.js";
import type { LinkTarget, S2sLoadGen } from "../lib/s2s-loadgen.js";

export interface MemoryResult {
  readonly links: number;
  /** Target RSS after the warm-up link settled, bytes. */
  readonly rssBefore: number;
  /** Target RSS after `links` more links settled, bytes. */
  readonly rssAfter: number;
  readonly kibPerLink: number;
  /** Time to open (and authenticate) the links, ms. */
  readonly openMs: number;
  /** db:verify requests the target sent to the load generator (dialback verifications). */
  readonly verifications: number;
}

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

/**
 * Resident memory per idle authenticated TLS link: the load generator opens one warm-up link
 * (which also makes the target open its own verification link back to the load generator's
 * domain), the target's RSS settles, then `links` more links (STARTTLS + dialback, each
 * `type='valid'`), RSS settles again. (after - before) / links, in KiB. Fails when a link was
 * refused or closed by the target: the figure would not be per open link.
 */
export async function memoryPerLink(gen: S2sLoadGen, target: LinkTarget & { pid: number }, links: number, options: { concurrency: number; linkTimeoutMs: number; deadlineMs: number }): Promise<MemoryResult> {
  const warm = await gen.openLinks(target, 1, 1, options.linkTimeoutMs, options.linkTimeoutMs);
  if (warm.valid !== 1) throw new Error(`warm-up link to ${target.domain} failed: ${warm.errors.join("; ")}`);
  const rssBefore = await settledRss(target.pid);
  const verifyBefore = gen.verifyAnswered;
  const r = await gen.openLinks(target, links, options.concurrency, options.linkTimeoutMs, options.deadlineMs);
  if (r.valid !== links) throw new Error(`${r.valid} of ${links} links to ${target.domain} authenticated (${r.failed} failed): ${r.errors.join("; ")}`);
  const rssAfter = await settledRss(target.pid);
  if (gen.links.size !== links + 1) throw new Error(`${target.domain} closed ${links + 1 - gen.links.size} of ${links + 1} authenticated links`);
  return { links, rssBefore, rssAfter, kibPerLink: (rssAfter - rssBefore) / links / 1024, openMs: r.ms, verifications: gen.verifyAnswered - verifyBefore };
}
